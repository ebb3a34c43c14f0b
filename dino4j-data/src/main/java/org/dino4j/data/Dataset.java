package org.dino4j.data;

import java.util.List;

/** An ordered, indexable collection of samples (the order is what makes a run resumable). */
public interface Dataset {
    int size();

    Sample get(int i);

    /** Class names by label index; empty when unlabelled. */
    List<String> classes();

    /** A dataset over an in-memory list. */
    static Dataset of(List<Sample> samples, List<String> classes) {
        List<Sample> s = List.copyOf(samples);
        List<String> c = List.copyOf(classes);
        return new Dataset() {
            @Override
            public int size() {
                return s.size();
            }

            @Override
            public Sample get(int i) {
                return s.get(i);
            }

            @Override
            public List<String> classes() {
                return c;
            }
        };
    }
}
