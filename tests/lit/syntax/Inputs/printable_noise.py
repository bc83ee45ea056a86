"""Writes 8 KiB of random printable DPL-ish characters (valid UTF-8) to argv[1]."""
import random
import sys

ALPHABET = '{}[]();,.=:<>!/*"\\ \n\tabcxyz09_-%$'
rng = random.Random()  # unseeded on purpose: a different input each run
with open(sys.argv[1], "w") as f:
    f.write("".join(rng.choice(ALPHABET) for _ in range(8192)))
