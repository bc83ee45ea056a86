// What deployd's subcommands share: global options, the call to the
// daemon's control API, output helpers. Each subcommand is one file
// (`*Command.cpp`) with a setup function listed in main.cpp's table.
#pragma once

#include "runtime/control/Server.h"
#include "runtime/store/Store.h"

#include <CLI/CLI.hpp>
#include <llvm/Support/JSON.h>

#include <functional>
#include <string>
#include <vector>

namespace dpl::runtime::cli {

enum ExitCode { ExitOk = 0, ExitFailure = 1, ExitUsage = 2 };

/// Options every subcommand takes (given before or after the subcommand).
struct Globals {
  std::string state = ".deploy/state.db";
  std::string socket;     ///< default: deployd.sock beside the store
  std::string tokenFile;  ///< else DEPLOYD_TOKEN, else the kernel's word
  std::string output = "text";
  std::string socketPath() const;
};

using Runner = std::function<int()>;
/// Adds a subcommand's own options and arguments to `sub`; returns what
/// runs it once the command line is parsed.
using CommandSetup = Runner (*)(CLI::App &sub, Globals &globals);
struct CommandEntry {
  const char *name, *help;
  CommandSetup setup;
};

/// `deployd: error: MESSAGE` on stderr; returns `code`.
int fail(const std::string &message, int code = ExitFailure);

/// Calls the running daemon. On success `result` holds the method's result
/// and the return value is -1; otherwise the error is printed and the exit
/// code returned (2 for invalid or unknown names, 1 otherwise).
int callDaemon(const Globals &g, const std::string &method, llvm::json::Object params, llvm::json::Object &result);

/// The store opened read-only, for `status` and `history` while no daemon
/// runs. Returns -1, or the exit code after the message (no store there).
int openStoreReadOnly(const Globals &g, std::unique_ptr<Store> &store);

/// Milliseconds → `2026-12-04T09:00:00Z`.
std::string stamp(int64_t ms);
/// Wall-clock now, in ms since the epoch.
int64_t wallNowMs();
/// `text` with control characters escaped (escapeControl).
std::string safe(llvm::StringRef text);

/// Prints rows as aligned columns (the last one unpadded), escaped.
void printTable(const std::vector<std::vector<std::string>> &rows);

/// Sleeps up to `ms`, waking early on SIGINT/SIGTERM (see stopRequested).
void sleepInterruptibly(int64_t ms);
bool stopRequested();
void stopOnSignals();

} // namespace dpl::runtime::cli
