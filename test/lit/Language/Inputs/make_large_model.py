"""Writes a valid model file of about N megabytes: a long chain of layers,
padded with comments."""
import sys

path, megabytes = sys.argv[1], int(sys.argv[2])
target = megabytes * 1024 * 1024
with open(path, "w") as out:
    out.write("model big(x: f32[8]) {\n  h = x |> dense(8)\n")
    written = 40
    line = "  h = h |> relu |> htanh   # a comment to make the file bigger\n"
    while written < target - 100:
        out.write(line)
        written += len(line)
    out.write("  return h |> dense(2)\n}\n")
