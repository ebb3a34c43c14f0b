// In-JVM interleaved A/B of whole training steps between builds: TrainStepBench (what `dino4j bench --train` runs)
// from each build in its own class loader, one step per build per round, the order rotated each round; the first
// round of each build is its warm-up (JIT) and not counted.
//
//   git archive BASE | (mkdir -p /tmp/base && tar -x -C /tmp/base) && (cd /tmp/base && mvn -q -B -pl dino4j-cli -am package -DskipTests)
//   mvn -q -B -pl dino4j-cli -am package -DskipTests && cp dino4j-cli/target/dino4j.jar /tmp/after.jar
//   javac -d /tmp/ab tools/ab/ABTrain.java
//   java --add-modules jdk.incubator.vector -XX:+UseG1GC -XX:MaxHeapFreeRatio=100 -XX:G1HeapRegionSize=2m -Xmx16g \
//     -cp /tmp/ab ABTrain dinov2_vits14 16 65536 4 /tmp/base/dino4j-cli/target/dino4j.jar /tmp/after.jar
//
// Prints per build the median step (the sum of its phases) and 'teacher' phase seconds, and the median of the paired per-round ratios v_i/v0.
import java.lang.reflect.*; import java.net.*; import java.nio.file.*; import java.util.*; import java.util.function.Consumer; import java.util.regex.*;
/** args: preset batch prototypes rounds jar1 jar2 ... */
public class ABTrain {
  public static void main(String[] x) throws Exception {
    String preset=x[0]; int b=Integer.parseInt(x[1]), k=Integer.parseInt(x[2]), rounds=Integer.parseInt(x[3]), nv=x.length-4;
    Method[] run=new Method[nv];
    for (int v=0; v<nv; v++) {
      ClassLoader cl=new URLClassLoader(new URL[]{Paths.get(x[4+v]).toUri().toURL()}, ClassLoader.getPlatformClassLoader());
      run[v]=cl.loadClass("org.dino4j.train.bench.TrainStepBench").getMethod("run",String.class,int.class,int.class,int.class,int.class,int.class,Consumer.class);
    }
    Pattern phase=Pattern.compile("(?:\\(|, )([a-zA-Z ]+) ([\\d.]+)"); // the step's phases (the first step's full GC for its live heap left out)
    double[][] step=new double[nv][rounds], tea=new double[nv][rounds];
    for (int r=0; r<rounds; r++) for (int v0=0; v0<nv; v0++) {
      int v=(v0+r)%nv; List<String> log=new ArrayList<>();
      run[v].invoke(null,preset,b,k,0,1,0,(Consumer<String>)log::add);
      String l=log.get(0); Matcher m=phase.matcher(l.substring(l.indexOf("(teacher"), l.indexOf(')', l.indexOf("(teacher"))));
      while (m.find()) { double sec=Double.parseDouble(m.group(2)); step[v][r]+=sec; if (m.group(1).equals("teacher")) tea[v][r]=sec; }
      if (tea[v][r]==0) throw new IllegalStateException(log.get(0));
      System.out.printf("round %d v%d: step %.2f s, teacher %.2f s%n", r, v, step[v][r], tea[v][r]);
    }
    StringBuilder sb=new StringBuilder();
    for (int v=0; v<nv; v++) sb.append(String.format("v%d step med %.2f s teacher med %.2f s  ",v,med(step[v],1,rounds),med(tea[v],1,rounds)));
    for (int v=1; v<nv; v++) { double[] rs=new double[rounds-1], rt=new double[rounds-1];
      for(int r=1;r<rounds;r++){ rs[r-1]=step[v][r]/step[0][r]; rt[r-1]=tea[v][r]/tea[0][r]; }
      sb.append(String.format("v%d/v0 paired-med step %.3f teacher %.3f  ",v,med(rs,0,rs.length),med(rt,0,rt.length))); }
    System.out.println(sb);
  }
  static double med(double[] a, int from, int to) { double[] s=Arrays.copyOfRange(a,from,to); Arrays.sort(s); return s.length%2==1?s[s.length/2]:(s[s.length/2-1]+s[s.length/2])/2; }
}
