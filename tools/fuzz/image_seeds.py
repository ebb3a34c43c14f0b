import sys, io
from PIL import Image
I = sys.argv[1]
im = Image.new("RGB", (8, 6))
for x in range(8):
    for y in range(6): im.putpixel((x, y), (x * 30, y * 40, (x + y) * 10))
ex = Image.Exif(); ex[0x0112] = 6
im.save(I + "/seed-exif6.jpg", quality=80, exif=ex.tobytes())
im.save(I + "/seed-exif6.png", exif=ex.tobytes())
im.save(I + "/seed-exif6.webp", exif=ex.tobytes(), lossless=True)
im.save(I + "/seed-small.bmp")
im.save(I + "/seed-small.tif")
im.convert("CMYK").save(I + "/seed-cmyk.jpg", quality=80)
im.save(I + "/seed-interlaced.png", interlace=1)
im.convert("I;16").save(I + "/seed-gray16.png")
im.convert("RGBA").save(I + "/seed-rgba.png")
im.convert("P").save(I + "/seed-palette.gif")
im.save(I + "/seed-progressive.jpg", progressive=True, quality=70)
