// Unix-socket transport of the control API (see Server.h).
#include "runtime/control/Server.h"

#include "common/CanonicalJson.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dpl::runtime {

namespace {

llvm::Error sysError(const std::string &what) {
  return llvm::createStringError(std::error_code(errno, std::generic_category()), "%s: %s", what.c_str(),
                                 strerror(errno));
}

bool fillAddress(const std::string &path, sockaddr_un &addr) {
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path)
    return false;
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return true;
}

int connectTo(const std::string &path) {
  sockaddr_un addr;
  if (!fillAddress(path, addr))
    return -1;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  if (connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

} // namespace

bool controlListening(const std::string &path) {
  int fd = connectTo(path);
  if (fd < 0)
    return false;
  close(fd);
  return true;
}

llvm::Expected<std::unique_ptr<ControlServer>> ControlServer::listen(const std::string &path) {
  sockaddr_un addr;
  if (!fillAddress(path, addr))
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "control socket path %s is longer than the %zu bytes a Unix socket allows",
                                   path.c_str(), sizeof addr.sun_path - 1);
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "%s exists and is not a socket; refusing to replace it", path.c_str());
    if (controlListening(path))
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "another deployd already listens on %s", path.c_str());
    unlink(path.c_str()); // stale: its daemon is gone
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return sysError("socket");
  if (bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
    llvm::Error e = sysError("cannot bind control socket " + path);
    close(fd);
    return e;
  }
  chmod(path.c_str(), 0666);
  if (::listen(fd, 128) != 0) {
    llvm::Error e = sysError("cannot listen on " + path);
    close(fd);
    unlink(path.c_str());
    return e;
  }
  return std::unique_ptr<ControlServer>(new ControlServer(fd, path));
}

ControlServer::~ControlServer() {
  for (auto &c : connections_)
    close(c.fd);
  close(fd_);
  // Only our own socket: a newer daemon may have replaced it meanwhile.
  struct stat st;
  if (lstat(path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
    unlink(path_.c_str());
}

void ControlServer::answer(Connection &c, const Handler &handler) {
  llvm::json::Value response = nullptr;
  size_t nl = c.buffer.find('\n');
  std::string line = c.buffer.substr(0, nl);
  auto request = llvm::json::parse(line);
  if (!request || !request->getAsObject()) {
    if (!request)
      llvm::consumeError(request.takeError());
    response = llvm::json::Object{
        {"error", llvm::json::Object{{"code", "invalid"}, {"message", "the request is not a JSON object"}}}};
  } else {
    response = handler(*request->getAsObject(), c.peer);
  }
  std::string text = canonicalJson(response) + "\n";
  // The client waits for this line; a client that does not read it within
  // the send timeout loses it (the daemon never blocks on one).
  timeval tv{1, 0};
  setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int flags = fcntl(c.fd, F_GETFL);
  fcntl(c.fd, F_SETFL, flags & ~O_NONBLOCK);
  for (size_t sent = 0; sent < text.size();) {
    ssize_t n = send(c.fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n <= 0)
      break;
    sent += size_t(n);
  }
}

int ControlServer::serve(int waitMs, const Handler &handler) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(waitMs);
  int answered = 0;
  for (;;) {
    auto now = std::chrono::steady_clock::now();
    // Late connections are dropped.
    for (size_t i = 0; i < connections_.size();)
      if (now > connections_[i].deadline) {
        close(connections_[i].fd);
        connections_.erase(connections_.begin() + i);
      } else {
        ++i;
      }
    int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count());
    if (left < 0)
      left = 0;
    std::vector<pollfd> fds;
    fds.push_back({fd_, POLLIN, 0});
    for (auto &c : connections_)
      fds.push_back({c.fd, POLLIN, 0});
    int ready = poll(fds.data(), fds.size(), left);
    if (ready <= 0)
      return answered; // time is up (or a signal: the caller checks why)
    if (fds[0].revents & POLLIN) {
      for (int k = 0; k < 16; ++k) {
        int cfd = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0)
          break;
        // Full: the oldest connection, which has had the longest to send
        // its line, gives way, so a flood of idle connections never keeps
        // a real caller waiting.
        if (int(connections_.size()) >= kMaxConnections) {
          close(connections_.front().fd);
          connections_.erase(connections_.begin());
          fds.erase(fds.begin() + 1);
        }
        ucred cred{};
        socklen_t len = sizeof cred;
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
          close(cfd);
          continue;
        }
        connections_.push_back(
            {cfd, {cred.uid, cred.gid, cred.pid}, "", std::chrono::steady_clock::now() + std::chrono::seconds(5)});
      }
    }
    std::vector<int> done;
    for (size_t i = 1; i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      Connection &c = connections_[i - 1];
      char buf[65536];
      ssize_t n = recv(c.fd, buf, sizeof buf, 0);
      if (n > 0)
        c.buffer.append(buf, size_t(n));
      bool complete = c.buffer.find('\n') != std::string::npos;
      if (complete) {
        answer(c, handler);
        ++answered;
      } else if (n > 0 && c.buffer.size() <= kMaxRequestBytes) {
        continue;
      }
      done.push_back(c.fd); // answered, closed by the client, or too long
    }
    for (int fd : done) {
      close(fd);
      for (size_t i = 0; i < connections_.size(); ++i)
        if (connections_[i].fd == fd) {
          connections_.erase(connections_.begin() + i);
          break;
        }
    }
    if (answered && std::chrono::steady_clock::now() >= until)
      return answered;
  }
}

llvm::Expected<llvm::json::Object> callControl(const std::string &socketPath, const std::string &method,
                                               llvm::json::Object params, const std::string &token) {
  int fd = connectTo(socketPath);
  if (fd < 0)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "deployd is not running: nothing listens on %s (start `deployd run`, or pass "
                                   "--socket PATH)",
                                   socketPath.c_str());
  llvm::json::Object request{{"method", method}, {"params", std::move(params)}};
  if (!token.empty())
    request["token"] = token;
  std::string text = canonicalJson(llvm::json::Value(std::move(request))) + "\n";
  timeval tv{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  for (size_t sent = 0; sent < text.size();) {
    ssize_t n = send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      close(fd);
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "deployd closed %s before the request was sent",
                                     socketPath.c_str());
    }
    sent += size_t(n);
  }
  std::string answer;
  char buf[65536];
  while (answer.find('\n') == std::string::npos) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      break;
    answer.append(buf, size_t(n));
  }
  close(fd);
  auto v = llvm::json::parse(llvm::StringRef(answer).split('\n').first);
  if (!v || !v->getAsObject()) {
    if (!v)
      llvm::consumeError(v.takeError());
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "no valid answer from deployd on %s",
                                   socketPath.c_str());
  }
  return std::move(*v->getAsObject());
}

} // namespace dpl::runtime
