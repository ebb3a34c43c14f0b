/** JMH benchmarks of dino4j's kernels. */
package org.dino4j.jmh;
