// deployd: the runtime. `run` is the daemon; every other subcommand is a
// client of its control API (or, for `status`/`history` with no daemon, a
// read-only look at its store). One file per subcommand, listed below.
#include "runtime/cli/Cli.h"

#include <llvm/ADT/StringRef.h>
#include <llvm/Support/raw_ostream.h>

#include <memory>

namespace dpl::runtime::cli {
Runner setupRun(CLI::App &, Globals &);
Runner setupRelease(CLI::App &, Globals &);
Runner setupApprove(CLI::App &, Globals &);
Runner setupResource(CLI::App &, Globals &);
Runner setupRollback(CLI::App &, Globals &);
Runner setupResume(CLI::App &, Globals &);
Runner setupStatus(CLI::App &, Globals &);
Runner setupHistory(CLI::App &, Globals &);
Runner setupDown(CLI::App &, Globals &);
Runner setupToken(CLI::App &, Globals &);
Runner setupWait(CLI::App &, Globals &);
Runner setupPrune(CLI::App &, Globals &);
} // namespace dpl::runtime::cli

using namespace dpl::runtime::cli;

static const CommandEntry kCommands[] = {
    {"run", "Run the daemon: reconcile loop and control API", setupRun},
    {"release", "Request a release of SERVICE at VERSION", setupRelease},
    {"approve", "Approve the release SERVICE@ENV works on now", setupApprove},
    {"resource", "Mark an external resource ready or not-ready", setupResource},
    {"rollback", "Return SERVICE@ENV to its last known good version now, and pin it", setupRollback},
    {"resume", "Let queued releases deploy to SERVICE@ENV again", setupResume},
    {"status", "Show every unit's desired and actual version, state and what it waits on", setupStatus},
    {"history", "Show the decision journal (all, SERVICE, or SERVICE@ENV)", setupHistory},
    {"wait", "Wait until the running daemon is idle", setupWait},
    {"token", "Create, list or revoke API tokens (admins)", setupToken},
    {"prune", "Stop the workloads of an environment removed from the plan (admins)", setupPrune},
    {"down", "Stop every workload of the plan (they otherwise outlive deployd)", setupDown},
};

int main(int argc, char **argv) {
  CLI::App app{"deployd: drives every environment to its desired version"};
  app.set_version_flag("--version", "deployd 0.2.0");
  app.require_subcommand(1);
  app.fallthrough(); // global options may follow the subcommand
  Globals g;
  app.add_option("--state", g.state, "State file (SQLite)");
  app.add_option("--socket", g.socket, "Control socket (default: deployd.sock beside the state file)");
  app.add_option("--token-file", g.tokenFile, "File holding an API token (else $DEPLOYD_TOKEN)");
  app.add_option("-o,--output", g.output, "Output format of status and history")
      ->check(CLI::IsMember({"text", "json"}));
  std::vector<std::pair<CLI::App *, Runner>> commands;
  for (const CommandEntry &c : kCommands) {
    CLI::App *sub = app.add_subcommand(c.name, c.help);
    commands.emplace_back(sub, c.setup(*sub, g));
  }
  // An unknown subcommand is named as such (CLI11 would say "A subcommand
  // is required").
  for (int i = 1; i < argc; ++i) {
    llvm::StringRef arg = argv[i];
    if (arg.startswith("-")) {
      if (!arg.contains('=') && (arg == "--state" || arg == "--socket" || arg == "--token-file" || arg == "-o" ||
                                 arg == "--output"))
        ++i; // its value
      continue;
    }
    bool known = false;
    std::string best;
    unsigned bestDistance = 3;
    for (const CommandEntry &c : kCommands) {
      known |= arg == c.name;
      unsigned d = arg.edit_distance(c.name, true, bestDistance);
      if (d < bestDistance) {
        bestDistance = d;
        best = c.name;
      }
    }
    if (!known)
      return fail("unknown command `" + arg.str() + "`" + (best.empty() ? "" : "; did you mean `" + best + "`?") +
                      " (see `deployd --help`)",
                  ExitUsage);
    break;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp &e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion &e) {
    return app.exit(e);
  } catch (const CLI::ParseError &e) {
    // Like every other error of this tool: prefixed, on stderr, exit 2.
    llvm::errs() << "deployd: error: " << e.what() << " (see `deployd --help`)\n";
    return ExitUsage;
  }
  for (auto &[sub, run] : commands)
    if (sub->parsed())
      return run();
  return ExitUsage;
}
