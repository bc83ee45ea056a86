// The transport of deployd's control API: a Unix stream socket, one JSON
// request line and one JSON response line per connection, the caller named
// by the kernel (SO_PEERCRED). Served from the daemon's own loop between
// ticks, so requests and engine steps never interleave (the daemon is the
// only writer of its store). docs/security.md describes the protocol.
#pragma once

#include <llvm/Support/Error.h>
#include <llvm/Support/JSON.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace dpl::runtime {

/// The peer of a connection, as the kernel reports it.
struct Peer {
  unsigned uid = 0, gid = 0;
  int pid = 0;
};

/// Limits: a request line is at most 1 MiB; a connection must deliver it
/// within 5 s; at most 64 connections are read at once, and a new one
/// evicts the oldest (so idle connections cannot starve real callers).
class ControlServer {
public:
  static constexpr size_t kMaxRequestBytes = 1 << 20;
  static constexpr int kMaxConnections = 64;

  /// Binds `path` (mode 0666: who may do what is decided per request, by
  /// identity). A stale socket file nobody listens on is replaced; one a
  /// live process listens on is an error.
  static llvm::Expected<std::unique_ptr<ControlServer>> listen(const std::string &path);
  ~ControlServer();

  using Handler = std::function<llvm::json::Value(const llvm::json::Object &request, const Peer &peer)>;
  /// Waits up to `waitMs` for requests and answers every complete one with
  /// `handler`'s value. Returns the number of requests answered.
  int serve(int waitMs, const Handler &handler);
  const std::string &path() const { return path_; }

private:
  ControlServer(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  struct Connection {
    int fd;
    Peer peer;
    std::string buffer;
    std::chrono::steady_clock::time_point deadline;
  };
  void answer(Connection &c, const Handler &handler);
  int fd_;
  std::string path_;
  std::vector<Connection> connections_;
};

/// One call: connects to `socketPath`, sends `{"method", "params",
/// "token"?}`, returns the response object. Errors: no daemon listening
/// (the message says so and names the socket), a broken or late answer
/// (30 s).
llvm::Expected<llvm::json::Object> callControl(const std::string &socketPath, const std::string &method,
                                               llvm::json::Object params, const std::string &token);

/// Connecting would succeed (a daemon listens on `socketPath`).
bool controlListening(const std::string &socketPath);

} // namespace dpl::runtime
