# lit configuration for deployc's golden tests: one file per behaviour.
import os
import lit.formats

config.name = "deployc"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".dpl", ".test"]
config.excludes = ["Inputs", "demo-service.test.py", "lit.cfg.py", "lit.site.cfg.py.in"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.deployc_obj_root, "tests", "lit")

config.environment["PATH"] = os.pathsep.join(
    [config.deployc_bin_dir, config.llvm_tools_dir, config.environment.get("PATH", os.environ["PATH"])])
# Diagnostics must not depend on the terminal.
config.environment["TERM"] = "dumb"

config.substitutions.append(("%deployc", os.path.join(config.deployc_bin_dir, "deployc")))
config.substitutions.append(("%deployd", os.path.join(config.deployc_bin_dir, "deployd")))
config.substitutions.append(("%stdlib", os.path.join(config.deployc_src_root, "stdlib")))
config.substitutions.append(("%examples", os.path.join(config.deployc_src_root, "examples")))
config.substitutions.append(("%srcroot", config.deployc_src_root))
config.substitutions.append(("%bindir", config.deployc_bin_dir))
# FileCheck that also fails on any `error:`, `warning:` or `note:` line the
# test does not expect, so an extra or cascading diagnostic fails the test.
config.substitutions.append(
    ("%FileCheckDiags",
     "FileCheck --implicit-check-not=error: --implicit-check-not=warning: --implicit-check-not=note:"))
