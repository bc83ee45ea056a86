// The static adapter on real directories: versioned installs, the atomic
// `current` switch, rollback, pruning, drift, and an unreachable root.
#include "runtime/adapters/Adapter.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using namespace dpl::runtime;

namespace {

struct Fixture {
  fs::path dir;
  PlanUnit unit;
  std::unique_ptr<Adapter> adapter = makeStaticAdapter();
  Fixture() {
    dir = fs::temp_directory_path() / ("static-adapter-" + std::to_string(::getpid()) + "-" +
                                       std::to_string(reinterpret_cast<uintptr_t>(this)));
    fs::remove_all(dir);
    for (const char *v : {"v1", "v2", "v3"}) {
      fs::create_directories(dir / "dist" / v);
      std::ofstream(dir / "dist" / v / "index.html") << "<h1>" << v << "</h1>";
    }
    unit.id = "web@dev";
    unit.runtime = llvm::json::Object{{"kind", "static"}, {"root", (dir / "www").string()}, {"keep", 1}};
    unit.config["artifact"] = llvm::json::Object{{"kind", "files"}, {"path", (dir / "dist").string() + "/${version}"}};
  }
  ~Fixture() { fs::remove_all(dir); }
  std::string served() {
    std::ifstream in(dir / "www" / "current" / "index.html");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
};

} // namespace

TEST(StaticAdapter, NothingDeployedIsReachableAndEmpty) {
  Fixture f;
  UnitObservation o = f.adapter->observe(f.unit);
  EXPECT_TRUE(o.reachable);
  EXPECT_EQ(o.version, "");
}

TEST(StaticAdapter, ApplySwitchesCurrentAtomicallyAndIsIdempotent) {
  Fixture f;
  ASSERT_FALSE(bool(f.adapter->apply(f.unit, "v1")));
  EXPECT_EQ(f.served(), "<h1>v1</h1>");
  ASSERT_FALSE(bool(f.adapter->apply(f.unit, "v1"))); // again: harmless
  ASSERT_FALSE(bool(f.adapter->apply(f.unit, "v2")));
  UnitObservation o = f.adapter->observe(f.unit);
  EXPECT_EQ(o.version, "v2");
  EXPECT_EQ(o.health, Health::Healthy);
  EXPECT_EQ(f.served(), "<h1>v2</h1>");
  EXPECT_TRUE(fs::is_symlink(f.dir / "www" / "current"));
  EXPECT_FALSE(fs::exists(f.dir / "www" / ".current.tmp"));
}

TEST(StaticAdapter, RollbackSwitchesBackAndKeepLimitsOldVersions) {
  Fixture f;
  ASSERT_FALSE(bool(f.adapter->apply(f.unit, "v1")));
  ASSERT_FALSE(bool(f.adapter->apply(f.unit, "v2")));
  ASSERT_FALSE(bool(f.adapter->rollback(f.unit, "v1")));
  EXPECT_EQ(f.served(), "<h1>v1</h1>");
  ASSERT_FALSE(bool(f.adapter->apply(f.unit, "v3"))); // keep = 1: v1 and v3 remain
  EXPECT_TRUE(fs::is_directory(f.dir / "www" / "versions" / "v3"));
  size_t kept = 0;
  for (auto &e : fs::directory_iterator(f.dir / "www" / "versions"))
    kept += e.path().filename().string()[0] != '.';
  EXPECT_EQ(kept, 2u);
  llvm::Error gone = f.adapter->rollback(f.unit, "v0");
  ASSERT_TRUE(bool(gone));
  EXPECT_NE(llvm::toString(std::move(gone)).find("version v0 is no longer kept"), std::string::npos);
}

TEST(StaticAdapter, DriftIsObserved) {
  Fixture f;
  ASSERT_FALSE(bool(f.adapter->apply(f.unit, "v1")));
  ASSERT_FALSE(bool(f.adapter->apply(f.unit, "v2")));
  // Someone switches `current` by hand.
  fs::remove(f.dir / "www" / "current");
  fs::create_symlink("versions/v1", f.dir / "www" / "current");
  EXPECT_EQ(f.adapter->observe(f.unit).version, "v1");
}

TEST(StaticAdapter, UnreadableRootIsUnknown) {
  Fixture f;
  fs::create_directories(f.dir);
  std::ofstream(f.dir / "www") << "not a directory";
  UnitObservation o = f.adapter->observe(f.unit);
  EXPECT_FALSE(o.reachable);
}

TEST(StaticAdapter, VersionSubstitutionKeepsEscapedDollars) {
  EXPECT_EQ(substituteVersion("dist/${version}/$${version}", "v7"), "dist/v7/${version}");
}
