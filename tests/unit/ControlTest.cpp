// The control API's pieces: identities, escaping, tokens, the identity
// config, and the socket transport under garbage and floods.
#include "runtime/control/Identity.h"
#include "runtime/control/Server.h"

#include <gtest/gtest.h>
#include <llvm/Support/FileSystem.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>
#include <thread>

using namespace dpl::runtime;

TEST(Identity, OnlyPlainNamesAreIdentities) {
  for (const char *ok : {"@ann", "@sre-lead", "@a.b_c", "@9"})
    EXPECT_TRUE(validIdentity(ok)) << ok;
  for (const char *bad : {"ann", "@", "@-x", "@ann\n@root", "@ann\x1b[2J", "@a b", "@é", "@ann;rm"})
    EXPECT_FALSE(validIdentity(bad)) << bad;
  EXPECT_FALSE(validIdentity("@" + std::string(65, 'a')));
}

TEST(Identity, ControlCharactersAreEscapedUtf8Kept) {
  EXPECT_EQ(escapeControl("a\nb\x1b[2Jc\x7f"), "a\\x0ab\\x1b[2Jc\\x7f");
  EXPECT_EQ(escapeControl("caf\xc3\xa9 →"), "caf\xc3\xa9 →");
  EXPECT_EQ(escapeControl("\xc2\x9b" "31m"), "\\xc2\\x9b31m"); // C1 CSI
  EXPECT_EQ(escapeControl("\xff\xc3"), "\\xff\\xc3");           // invalid UTF-8
}

TEST(Identity, TokensAreRandomAndStoredHashed) {
  std::string a = newToken(), b = newToken();
  EXPECT_EQ(a.size(), 68u);
  EXPECT_EQ(a.rfind("dpl_", 0), 0u);
  EXPECT_NE(a, b);
  EXPECT_EQ(tokenHash("abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Identity, ConfigMapsUsersAndNamesAdmins) {
  llvm::SmallString<128> path;
  llvm::sys::fs::createTemporaryFile("deployd", "yaml", path);
  std::ofstream(std::string(path)) << "users:\n  root: \"@ops\"\nadmins: [\"@ops\"]\n";
  auto c = loadIdentityConfig(std::string(path));
  ASSERT_TRUE(bool(c)) << llvm::toString(c.takeError());
  EXPECT_EQ(c->users.at("root"), "@ops");
  EXPECT_EQ(identityOfUid(0, *c), "@ops");
  std::ofstream(std::string(path)) << "users:\n  root: \"@ops\\n@evil\"\n";
  auto bad = loadIdentityConfig(std::string(path));
  ASSERT_FALSE(bool(bad));
  EXPECT_EQ(llvm::toString(bad.takeError()), std::string(path) + ":2:9: invalid identity `@ops\\x0a@evil` (expected @name)");
  llvm::sys::fs::remove(path);
}

namespace {
int connectRaw(const std::string &path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}
} // namespace

TEST(ControlServer, AnswersGarbageWithAnErrorAndSurvivesAFlood) {
  std::string path = "/tmp/deployd-test-" + std::to_string(getpid()) + ".sock";
  auto server = ControlServer::listen(path);
  ASSERT_TRUE(bool(server)) << llvm::toString(server.takeError());
  auto handler = [](const llvm::json::Object &req, const Peer &peer) -> llvm::json::Value {
    return llvm::json::Object{{"result", llvm::json::Object{{"method", req.getString("method").getValueOr("")},
                                                            {"uid", int64_t(peer.uid)}}}};
  };
  std::atomic<bool> stop{false};
  std::thread serving([&] {
    while (!stop)
      (*server)->serve(50, handler);
  });
  // A well-formed call: the kernel names the caller.
  auto r = callControl(path, "ping", {}, "");
  ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
  EXPECT_EQ(r->getObject("result")->getInteger("uid"), int64_t(getuid()));
  // Garbage gets an error line, never a crash.
  int fd = connectRaw(path);
  ASSERT_GE(fd, 0);
  std::string junk = "\x01\x02{not json\n";
  ASSERT_EQ(write(fd, junk.data(), junk.size()), ssize_t(junk.size()));
  char buf[512] = {};
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  EXPECT_GT(n, 0);
  EXPECT_NE(std::string(buf).find("\"code\":\"invalid\""), std::string::npos);
  // 200 idle connections that never send: the server drops them after 5 s
  // and keeps answering real calls meanwhile (up to 64 are read at once).
  std::vector<int> idle;
  for (int i = 0; i < 200; ++i)
    if (int c = connectRaw(path); c >= 0)
      idle.push_back(c);
  auto later = callControl(path, "ping", {}, "");
  for (int c : idle)
    close(c);
  // The answer may have waited for idle connections to time out; it came.
  EXPECT_TRUE(bool(later)) << (later ? "" : llvm::toString(later.takeError()));
  stop = true;
  serving.join();
  server->reset();
  EXPECT_FALSE(controlListening(path));
  EXPECT_FALSE(llvm::sys::fs::exists(path));
}

TEST(ControlServer, RefusesToReplaceAFileThatIsNotASocket) {
  std::string path = "/tmp/deployd-test-file-" + std::to_string(getpid());
  std::ofstream(path) << "precious";
  auto server = ControlServer::listen(path);
  ASSERT_FALSE(bool(server));
  EXPECT_EQ(llvm::toString(server.takeError()), path + " exists and is not a socket; refusing to replace it");
  unlink(path.c_str());
}
