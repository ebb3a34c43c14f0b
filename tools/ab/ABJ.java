// In-JVM interleaved A/B of whole forward passes between builds (this VM's speed swings ±40% between processes;
// inside one JVM, alternating forwards, an A-vs-A control lands within ~2%).
//
//   git archive HEAD | (mkdir -p /tmp/base && tar -x -C /tmp/base) && (cd /tmp/base && mvn -q -o -pl dino4j-core compile)
//   javac -d /tmp/ab tools/ab/ABJ.java
//   java --add-modules jdk.incubator.vector -cp /tmp/ab ABJ 8 24 dinov2_vits14 /tmp/base/dino4j-core/target/classes dino4j-core/target/classes
//
// Prints each variant's median ms per forward and the median of the paired per-iteration ratios v_i/v0.
import java.lang.reflect.*; import java.net.*; import java.nio.file.*; import java.util.*;
/** In-JVM interleaved A/B: args: batch iters preset dir1 dir2 ... ; each dir loaded in its own class loader. */
public class ABJ {
  public static void main(String[] x) throws Exception {
    int b=Integer.parseInt(x[0]), it=Integer.parseInt(x[1]); String preset=x[2]; int nv=x.length-3;
    Object[] model=new Object[nv], px=new Object[nv]; Method[] fwd=new Method[nv];
    float[] pp=new float[b*3*224*224]; SplittableRandom sr=new SplittableRandom(42); for(int i=0;i<pp.length;i++) pp[i]=(float)sr.nextGaussian();
    for (int v=0; v<nv; v++) {
      ClassLoader cl=new URLClassLoader(new URL[]{Paths.get(x[3+v]).toUri().toURL()}, ClassLoader.getPlatformClassLoader());
      Class<?> D=cl.loadClass("org.dino4j.model.Dinov2"), MC=cl.loadClass("org.dino4j.model.ModelConfig"), T=cl.loadClass("org.dino4j.tensor.Tensor");
      Object cfg=MC.getMethod("preset",String.class).invoke(null,preset);
      model[v]=D.getMethod("random",MC,long.class).invoke(null,cfg,0L);
      px[v]=T.getConstructor(float[].class,int[].class).newInstance(pp.clone(),new int[]{b,3,224,224});
      fwd[v]=model[v].getClass().getMethod("forwardFeatures",T);
    }
    double[][] t=new double[nv][it];
    for (int i=0;i<it;i++) for (int v0=0; v0<nv; v0++) { int v=(v0+i)%nv; long t0=System.nanoTime(); fwd[v].invoke(model[v],px[v]); t[v][i]=(System.nanoTime()-t0)/1e6; }
    int w=Math.min(4,it/3);
    StringBuilder sb=new StringBuilder();
    for (int v=0; v<nv; v++) { double[] s=Arrays.copyOfRange(t[v],w,it); Arrays.sort(s); sb.append(String.format("v%d med %.1f  ",v,s[s.length/2])); }
    for (int v=1; v<nv; v++) { double[] r=new double[it-w]; for(int i=w;i<it;i++) r[i-w]=t[v][i]/t[0][i]; Arrays.sort(r); sb.append(String.format("v%d/v0 paired-med %.3f  ",v,r[r.length/2])); }
    System.out.println(sb);
  }
}
