import sys, re
from pathlib import Path
p = Path(sys.argv[1]); s = p.read_text()
start = s.index("    import tensorflow as tf\n"); end = s.index("    # else:\n")
alt_end = s.index("    top_pad = ")
alt = s[end:alt_end]
alt = "\n".join(line.replace("    #     ", "    ", 1) for line in alt.splitlines()[1:]) + "\n\n"
p.write_text(s[:start] + alt + s[alt_end:])
