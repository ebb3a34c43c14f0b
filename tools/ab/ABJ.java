// In-JVM interleaved A/B between builds (this VM's speed swings ±40% between processes; inside one JVM, alternating
// runs, an A-vs-A control lands within ~2%). Each variant is a class path (directories joined by ':') loaded in its own
// class loader; the variants take turns, iteration by iteration.
//
// A ViT forward (forwardFeatures of a random model, 224 px): args  batch iters preset cp1 cp2 ...
//   git archive HEAD | (mkdir -p /tmp/base && tar -x -C /tmp/base) && (cd /tmp/base && mvn -q -pl dino4j-train -am compile)
//   mvn -q -pl dino4j-train -am compile
//   javac -d /tmp/ab tools/ab/ABJ.java
//   java --add-modules jdk.incubator.vector -cp /tmp/ab ABJ 8 24 dinov2_vits14 /tmp/base/dino4j-core/target/classes dino4j-core/target/classes
//
// A training step (TrainStepBench, as `dino4j bench --train`: a warm-up step then a timed one per turn, the model and
// crops made anew each turn): args  train batch iters preset cp1 cp2 ..., each cp holding core, data and train:
//   B=/tmp/base; java -Xmx12g --add-modules jdk.incubator.vector -cp /tmp/ab ABJ train 16 8 dinov2_vits14 \
//     $B/dino4j-core/target/classes:$B/dino4j-data/target/classes:$B/dino4j-train/target/classes \
//     dino4j-core/target/classes:dino4j-data/target/classes:dino4j-train/target/classes
//
// Add -Ddino4j.kernels=scalar to time the scalar twins (every variant then runs them).
// Prints each variant's median ms per forward (or step) and the median of the paired per-iteration ratios v_i/v0.
import java.lang.reflect.*; import java.net.*; import java.nio.file.*; import java.util.*; import java.util.concurrent.Callable; import java.util.function.*;
public class ABJ {
  public static void main(String[] x) throws Exception {
    boolean train=x[0].equals("train"); int a0=train?1:0;
    int b=Integer.parseInt(x[a0]), it=Integer.parseInt(x[a0+1]); String preset=x[a0+2]; int nv=x.length-a0-3;
    Callable<?>[] run=new Callable<?>[nv];
    float[] pp=new float[b*3*224*224]; SplittableRandom sr=new SplittableRandom(42); for(int i=0;i<pp.length;i++) pp[i]=(float)sr.nextGaussian();
    for (int v=0; v<nv; v++) {
      String[] dirs=x[a0+3+v].split(":"); URL[] urls=new URL[dirs.length];
      for (int d=0; d<dirs.length; d++) urls[d]=Paths.get(dirs[d]).toUri().toURL();
      ClassLoader cl=new URLClassLoader(urls, ClassLoader.getPlatformClassLoader());
      if (train) {
        Class<?> TB=cl.loadClass("org.dino4j.train.bench.TrainStepBench");
        Method m=TB.getMethod("run",String.class,int.class,int.class,int.class,int.class,int.class,Consumer.class);
        Consumer<String> quiet=s->{};
        run[v]=()->{ Object r=m.invoke(null,preset,b,65536,0,1,1,quiet); return r.getClass().getMethod("medianStepS").invoke(r); };
      } else {
        Class<?> D=cl.loadClass("org.dino4j.model.Dinov2"), MC=cl.loadClass("org.dino4j.model.ModelConfig"), T=cl.loadClass("org.dino4j.tensor.Tensor");
        Object cfg=MC.getMethod("preset",String.class).invoke(null,preset);
        Object model=D.getMethod("random",MC,long.class).invoke(null,cfg,0L);
        Object px=T.getConstructor(float[].class,int[].class).newInstance(pp.clone(),new int[]{b,3,224,224});
        Method fwd=model.getClass().getMethod("forwardFeatures",T);
        run[v]=()->fwd.invoke(model,px);
      }
    }
    double[][] t=new double[nv][it];
    for (int i=0;i<it;i++) for (int v0=0; v0<nv; v0++) {
      int v=(v0+i)%nv; long t0=System.nanoTime(); Object r=run[v].call();
      t[v][i]=train ? (Double) r*1e3 : (System.nanoTime()-t0)/1e6;
    }
    int w=train ? Math.min(1,it/3) : Math.min(4,it/3);
    StringBuilder sb=new StringBuilder();
    for (int v=0; v<nv; v++) { double[] s=Arrays.copyOfRange(t[v],w,it); Arrays.sort(s); sb.append(String.format("v%d med %.1f  ",v,s[s.length/2])); }
    for (int v=1; v<nv; v++) { double[] r=new double[it-w]; for(int i=w;i<it;i++) r[i-w]=t[v][i]/t[0][i]; Arrays.sort(r); sb.append(String.format("v%d/v0 paired-med %.3f  ",v,r[r.length/2])); }
    System.out.println(sb);
  }
}
