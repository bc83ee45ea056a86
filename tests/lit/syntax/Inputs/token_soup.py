"""Writes N policy trees of random DPL token sequences (seeded, reproducible)."""
import os
import random
import sys

TOKENS = ("owner ops ; stakeholder { } paths = [ \"*.dpl\" ] service api environment dev "
          "rule when require constrain in not and or matches ( ) , . 1 30s 1% 09:00 \"x\" "
          "\"${version}\" - + == != <= >= < > image exec soak approval group defaults replicas "
          "artifact process workdir runtime after depends_on env tier guard record enum schema "
          ": | ? 1.5 25:00 true false /* */ // \" ${ \n").split(" ")
PRELUDE = ('owner ops;\nstakeholder ops { paths = ["*.dpl"]; '
           'may = [environments, defaults, require, constrain]; services = ["*"]; }\n')

root, count = sys.argv[1], int(sys.argv[2])
for seed in range(count):
    rng = random.Random(seed)
    body = " ".join(rng.choice(TOKENS) for _ in range(rng.randint(1, 300)))
    tree = os.path.join(root, "t%03d" % seed)
    os.makedirs(tree)
    with open(os.path.join(tree, "main.dpl"), "w") as f:
        f.write((PRELUDE if seed % 4 else "") + body + "\n")
