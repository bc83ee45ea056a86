// deployc: the DPL compiler driver (`deployc check`, …).
#include "compiler/driver/Compilation.h"
#include "compiler/driver/Explain.h"
#include "compiler/driver/Graph.h"
#include "compiler/lower/Lower.h"
#include "common/CanonicalJson.h"

#include <llvm/Support/FileSystem.h>
#include <llvm/Support/Path.h>

#include <CLI/CLI.hpp>
#include <llvm/Support/Process.h>
#include <llvm/Support/raw_ostream.h>

#include <unistd.h>

namespace {

constexpr const char *kVersion = "0.1.0";

/// Exit codes: 0 no errors, 1 policy errors, 2 usage or I/O error.
enum ExitCode { ExitOk = 0, ExitErrors = 1, ExitUsage = 2 };

struct CommonFlags {
  std::string format = "text";
  std::string color = "auto";
  unsigned maxErrors = 20;
  std::string stdlib;
};

void addCommon(CLI::App *cmd, CommonFlags &f) {
  cmd->add_option("--format", f.format, "Output format")
      ->check(CLI::IsMember({"text", "json", "sarif", "github"}));
  cmd->add_option("--color", f.color, "Colour diagnostics")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  cmd->add_option("--max-errors", f.maxErrors, "Stop after N errors (0 = no limit)");
  cmd->add_option("--stdlib", f.stdlib, "Directory of the DPL standard library");
}

/// Loads, checks and merges the policy tree `dir` and renders its
/// diagnostics in `diagFormat` (machine formats to stdout only when stdout
/// carries nothing else). Returns the exit code to stop with (usage/I/O 2,
/// policy errors 1), or -1 when the tree is clean and `comp` is ready.
int compileTree(std::unique_ptr<dpl::Compilation> &comp, const std::string &dir, const CommonFlags &flags,
                const std::string &diagFormat, bool machineToStdout, const char *argv0,
                bool keepUnits = true, dpl::UnitSink *sink = nullptr) {
  dpl::CompileOptions opts;
  opts.keepUnits = keepUnits;
  opts.unitSink = sink;
  opts.root = dir;
  opts.stdlibDir = flags.stdlib.empty() ? dpl::defaultStdlibDir(argv0) : flags.stdlib;
  opts.maxErrors = flags.maxErrors;
  comp = std::make_unique<dpl::Compilation>(opts);
  bool ok = comp->run();
  dpl::RenderOptions render;
  render.toolVersion = kVersion;
  render.format = diagFormat == "json"    ? dpl::OutputFormat::Json
                  : diagFormat == "sarif" ? dpl::OutputFormat::Sarif
                  : diagFormat == "github" ? dpl::OutputFormat::Github
                                           : dpl::OutputFormat::Text;
  bool text = render.format == dpl::OutputFormat::Text;
  render.color = flags.color == "always" || (flags.color == "auto" && text && llvm::errs().has_colors());
  // Text diagnostics go to stderr like a compiler's; machine formats to
  // stdout when that is the command's only output.
  llvm::raw_ostream &diagOut = text || !machineToStdout ? llvm::errs() : llvm::outs();
  renderDiagnostics(comp->diags(), diagOut, render);
  diagOut.flush();
  if (comp->ioFailed())
    return ExitUsage;
  return ok ? -1 : ExitErrors;
}

int runCheck(const std::string &dir, const CommonFlags &flags, const char *argv0) {
  std::unique_ptr<dpl::Compilation> compPtr;
  int stop = compileTree(compPtr, dir, flags, flags.format, /*machineToStdout=*/true, argv0,
                         /*keepUnits=*/false);
  if (stop == ExitUsage)
    return stop;
  bool ok = stop < 0;
  bool text = flags.format == "text";
  dpl::Compilation &comp = *compPtr;
  if (text && ok) {
    const dpl::Model *m = comp.model();
    auto count = [](size_t n, const char *word) {
      return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
    };
    size_t units = m->environments.size() * m->services.size();
    llvm::outs() << "deployc: checked " << count(comp.policyFileCount(), "file") << ": "
                 << count(m->stakeholders.size(), "stakeholder") << ", "
                 << count(m->groups.size(), "group") << ", "
                 << count(m->environments.size(), "environment") << ", "
                 << count(m->services.size(), "service") << ", " << count(units, "unit") << ", "
                 << count(m->rules.size(), "rule") << "; no errors";
    if (comp.diags().warningCount())
      llvm::outs() << " (" << count(comp.diags().warningCount(), "warning") << ")";
    llvm::outs() << "\n";
  }
  return ok ? ExitOk : ExitErrors;
}

/// A file written in place of `path` atomically: a temporary file in the
/// same directory, renamed over `path` by commit(), so that a failed or
/// abandoned write never leaves a partial plan. Removed unless committed.
class AtomicFile {
public:
  /// False with `error` set when no file can be created next to `path`.
  bool open(const std::string &path, std::string &error) {
    path_ = path;
    llvm::SmallString<256> dir(path);
    llvm::sys::path::remove_filename(dir);
    if (dir.empty())
      dir = ".";
    llvm::SmallString<256> model(dir);
    llvm::sys::path::append(model, ".deployc-plan-%%%%%%%%.tmp");
    int fd = -1;
    if (std::error_code ec = llvm::sys::fs::createUniqueFile(model, fd, tmp_)) {
      error = "cannot create a file in `" + std::string(dir) + "`: " + ec.message();
      return false;
    }
    os_ = std::make_unique<llvm::raw_fd_ostream>(fd, /*shouldClose=*/true);
    return true;
  }
  llvm::raw_fd_ostream &stream() { return *os_; }
  /// Flushes, closes and renames; false with `error` set on any failure.
  bool commit(std::string &error) {
    os_->close();
    if (os_->has_error()) {
      error = "cannot write `" + std::string(tmp_) + "`: " + os_->error().message();
      os_->clear_error();
      return false;
    }
    if (std::error_code ec = llvm::sys::fs::rename(tmp_, path_)) {
      error = "cannot write `" + path_ + "`: " + ec.message();
      return false;
    }
    committed_ = true;
    return true;
  }
  ~AtomicFile() {
    if (os_ && !committed_) {
      os_->close();
      os_->clear_error();
      llvm::sys::fs::remove(tmp_);
    }
  }

private:
  std::string path_;
  llvm::SmallString<256> tmp_;
  std::unique_ptr<llvm::raw_fd_ostream> os_;
  bool committed_ = false;
};

/// `deployc compile DIR -o FILE`: exit 0 and the plan written, 1 on policy
/// errors (no file written), 2 on usage or I/O errors. The plan is written
/// while the merge runs, one unit at a time (dpl::PlanStreamWriter), into a
/// temporary file that replaces FILE only when the compile is clean; to
/// standard output (`-`) it is built in memory and printed at the end.
int runCompile(const std::string &dir, const std::string &out, const CommonFlags &flags,
               const char *argv0) {
  std::unique_ptr<dpl::Compilation> comp;
  AtomicFile file;
  std::string error;
  if (out != "-" && !file.open(out, error)) {
    // Policy errors come first, as when nothing is written: check the tree.
    if (int stop = compileTree(comp, dir, flags, flags.format, /*machineToStdout=*/false, argv0,
                               /*keepUnits=*/false);
        stop >= 0)
      return stop;
    llvm::errs() << "deployc: error: " << error << "\n";
    return ExitUsage;
  }
  llvm::SmallVector<char, 0> memory;
  llvm::raw_svector_ostream memoryStream(memory);
  llvm::raw_pwrite_stream &os = out == "-" ? static_cast<llvm::raw_pwrite_stream &>(memoryStream)
                                           : file.stream();
  dpl::PlanStreamWriter writer(os);
  if (int stop = compileTree(comp, dir, flags, flags.format, /*machineToStdout=*/false, argv0,
                             /*keepUnits=*/false, &writer);
      stop >= 0)
    return stop;
  if (!writer.begun()) { // a clean tree is always merged; guard anyway
    llvm::errs() << "deployc: error: internal: the merge did not run\n";
    return ExitUsage;
  }
  writer.finish();
  if (out == "-") {
    llvm::outs() << llvm::StringRef(memory.data(), memory.size());
    return ExitOk;
  }
  if (!file.commit(error)) {
    llvm::errs() << "deployc: error: " << error << "\n";
    return ExitUsage;
  }
  return ExitOk;
}

/// `deployc graph DIR --format dot|mermaid`: exit 0 with the graph on
/// standard output, 1 when the tree has errors, 2 on usage or I/O errors.
int runGraph(const std::string &dir, const std::string &format, const CommonFlags &flags,
             const char *argv0) {
  std::unique_ptr<dpl::Compilation> comp;
  if (int stop = compileTree(comp, dir, flags, "text", /*machineToStdout=*/false, argv0); stop >= 0)
    return stop;
  if (format == "mermaid")
    dpl::graphMermaid(*comp->model(), comp->merged(), llvm::outs());
  else
    dpl::graphDot(*comp->model(), comp->merged(), llvm::outs());
  return ExitOk;
}

/// `deployc explain DIR SERVICE@ENV`: exit 0 with the explanation, 1 when
/// the tree has errors, 2 for an unknown unit or a usage error.
int runExplain(const std::string &dir, const std::string &unitName, const CommonFlags &flags,
               const char *argv0) {
  std::unique_ptr<dpl::Compilation> comp;
  if (int stop = compileTree(comp, dir, flags, "text", /*machineToStdout=*/false, argv0); stop >= 0)
    return stop;
  auto [service, env] = llvm::StringRef(unitName).split('@');
  if (service.empty() || env.empty()) {
    llvm::errs() << "deployc: error: expected a unit as SERVICE@ENV, found `" << unitName << "`\n";
    return ExitUsage;
  }
  const dpl::Unit *unit = comp->merged().unit(service, env);
  if (!unit) {
    std::vector<std::string> names;
    for (auto &u : comp->merged().units)
      names.push_back(u.service + "@" + u.environment);
    llvm::errs() << "deployc: error: unknown unit `" << unitName << "`";
    std::string best = dpl::closestName(unitName, names);
    if (!best.empty())
      llvm::errs() << "; did you mean `" << best << "`?";
    llvm::errs() << "\n";
    return ExitUsage;
  }
  if (flags.format == "json")
    dpl::explainUnitJson(*unit, llvm::outs());
  else
    dpl::explainUnitText(*unit, llvm::outs());
  return ExitOk;
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app{"deployc: compiles deployment policy (DPL) into deployment plans"};
  app.set_version_flag("--version", std::string("deployc ") + kVersion);
  app.require_subcommand(1);

  CommonFlags checkFlags;
  std::string checkDir = ".";
  CLI::App *check = app.add_subcommand("check", "Parse, type-check and verify a policy tree");
  check->add_option("DIR", checkDir, "Policy tree (default: current directory)");
  addCommon(check, checkFlags);

  CommonFlags compileFlags;
  std::string compileDir = ".", compileOut;
  CLI::App *compile = app.add_subcommand("compile", "Check, merge and compile a policy tree into a plan");
  compile->add_option("DIR", compileDir, "Policy tree (default: current directory)");
  compile->add_option("-o,--output", compileOut, "Plan file to write (`-` for standard output)")->required();
  addCommon(compile, compileFlags);

  CommonFlags graphFlags;
  std::string graphDir = ".", graphFormat = "dot";
  CLI::App *graph = app.add_subcommand("graph", "Draw the environment DAG with each unit's gates and verifications");
  graph->add_option("DIR", graphDir, "Policy tree (default: current directory)");
  graph->add_option("--format", graphFormat, "dot (Graphviz) or mermaid")
      ->check(CLI::IsMember({"dot", "mermaid"}));
  graph->add_option("--color", graphFlags.color, "Colour diagnostics")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  graph->add_option("--stdlib", graphFlags.stdlib, "Directory of the DPL standard library");

  CommonFlags explainFlags;
  std::string explainDir = ".", explainUnit;
  CLI::App *explain = app.add_subcommand(
      "explain", "Show every resolved value, guard and constraint of one unit and where it came from");
  explain->add_option("DIR", explainDir, "Policy tree")->required();
  explain->add_option("UNIT", explainUnit, "Unit as SERVICE@ENV")->required();
  explain->add_option("--format", explainFlags.format, "Output format")
      ->check(CLI::IsMember({"text", "json"}));
  explain->add_option("--color", explainFlags.color, "Colour diagnostics")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  explain->add_option("--stdlib", explainFlags.stdlib, "Directory of the DPL standard library");

  // An unknown command gets a clear message (CLI11 would only say that a
  // subcommand is required).
  if (argc > 1 && argv[1][0] != '-') {
    std::string cmd = argv[1];
    if (cmd != "check" && cmd != "compile" && cmd != "explain" && cmd != "graph") {
      llvm::errs() << "deployc: error: unknown command `" << cmd
                   << "`; expected check, compile, explain or graph (see --help)\n";
      return ExitUsage;
    }
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp &e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion &e) {
    return app.exit(e);
  } catch (const CLI::ParseError &e) {
    // Like every other error of this tool: prefixed, on stderr, exit 2.
    llvm::errs() << "deployc: error: " << e.what() << " (see `deployc --help`)\n";
    return ExitUsage;
  }
  if (check->parsed())
    return runCheck(checkDir, checkFlags, argv[0]);
  if (compile->parsed())
    return runCompile(compileDir, compileOut, compileFlags, argv[0]);
  if (graph->parsed())
    return runGraph(graphDir, graphFormat, graphFlags, argv[0]);
  if (explain->parsed())
    return runExplain(explainDir, explainUnit, explainFlags, argv[0]);
  return ExitUsage;
}
