// The `static` runtime adapter: versioned directories and an atomic
// `current` switch.
#include "runtime/adapters/Adapter.h"
#include "runtime/failpoint/Failpoint.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

namespace fs = std::filesystem;

namespace dpl::runtime {

namespace {

llvm::Error fail(const std::string &what, const std::error_code &ec) {
  return llvm::createStringError(ec, "%s: %s", what.c_str(), ec.message().c_str());
}

class StaticAdapter : public Adapter {
public:
  UnitObservation observe(const PlanUnit &unit) override {
    UnitObservation o;
    fs::path root = rootOf(unit);
    std::error_code ec;
    if (root.empty() || !fs::is_directory(root, ec)) {
      // Never deployed here yet is "nothing runs"; an unreadable root is unknown.
      o.reachable = !fs::exists(root, ec) && !ec && !root.empty();
      return o;
    }
    fs::path current = root / "current";
    if (!fs::is_symlink(fs::symlink_status(current, ec)))
      return o; // nothing served
    fs::path target = fs::read_symlink(current, ec);
    if (ec) {
      o.reachable = false;
      return o;
    }
    o.version = target.filename().string();
    o.health = fs::is_directory(root / target, ec) ? Health::Healthy : Health::Unhealthy;
    return o;
  }

  llvm::Error apply(const PlanUnit &unit, const std::string &version) override {
    fs::path root = rootOf(unit);
    std::string source = artifactPath(unit, version);
    if (root.empty() || source.empty())
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "%s: a static runtime needs `root` and a `files(...)` artifact", unit.id.c_str());
    std::error_code ec;
    fs::path versions = root / "versions";
    fs::create_directories(versions, ec);
    if (ec)
      return fail("cannot create " + versions.string(), ec);
    fs::path dest = versions / version;
    if (!fs::is_directory(dest, ec)) {
      if (!fs::is_directory(source, ec))
        return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s: the artifact of %s, %s, is not a directory",
                                       unit.id.c_str(), version.c_str(), source.c_str());
      // Copy into a temporary directory, then rename: a version directory is
      // either complete or absent.
      fs::path tmp = versions / ("." + version + ".tmp");
      fs::remove_all(tmp, ec);
      fs::copy(source, tmp, fs::copy_options::recursive, ec);
      if (ec)
        return fail("cannot copy " + source + " to " + tmp.string(), ec);
      fs::rename(tmp, dest, ec);
      if (ec)
        return fail("cannot install " + dest.string(), ec);
    }
    failpoint("static-before-switch");
    if (auto e = switchTo(root, version))
      return e;
    prune(unit, root, version);
    return llvm::Error::success();
  }

  llvm::Error rollback(const PlanUnit &unit, const std::string &version) override {
    fs::path root = rootOf(unit);
    std::error_code ec;
    if (version.empty()) {
      fs::remove(root / "current", ec);
      return ec ? fail("cannot remove " + (root / "current").string(), ec) : llvm::Error::success();
    }
    if (!fs::is_directory(root / "versions" / version, ec))
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s: version %s is no longer kept in %s",
                                     unit.id.c_str(), version.c_str(), root.string().c_str());
    return switchTo(root, version);
  }

  std::vector<std::string> targets(const PlanUnit &unit) override { return {rootOf(unit).string()}; }

private:
  static fs::path rootOf(const PlanUnit &unit) {
    const llvm::json::Object *rt = unit.runtime.getAsObject();
    if (!rt)
      return {};
    auto root = rt->getString("root");
    return root ? fs::path(root->str()) : fs::path();
  }
  static std::string artifactPath(const PlanUnit &unit, const std::string &version) {
    const llvm::json::Object *art = unit.config.getObject("artifact");
    if (!art || art->getString("kind").getValueOr("") != "files")
      return "";
    return substituteVersion(art->getString("path").getValueOr("").str(), version);
  }

  /// Atomic switch: a new link under a temporary name renamed over `current`.
  static llvm::Error switchTo(const fs::path &root, const std::string &version) {
    std::error_code ec;
    fs::path link = root / "current", tmp = root / ".current.tmp";
    fs::remove(tmp, ec);
    fs::create_symlink(fs::path("versions") / version, tmp, ec);
    if (ec)
      return fail("cannot create " + tmp.string(), ec);
    fs::rename(tmp, link, ec); // rename(2) replaces the old link atomically
    return ec ? fail("cannot switch " + link.string(), ec) : llvm::Error::success();
  }

  /// Keeps the current version and the `keep` most recent others.
  static void prune(const PlanUnit &unit, const fs::path &root, const std::string &current) {
    int64_t keep = 3;
    if (const llvm::json::Object *rt = unit.runtime.getAsObject())
      keep = rt->getInteger("keep").getValueOr(3);
    std::error_code ec;
    std::vector<std::pair<fs::file_time_type, fs::path>> others;
    for (auto &entry : fs::directory_iterator(root / "versions", ec)) {
      std::string name = entry.path().filename().string();
      if (name == current || name.empty() || name[0] == '.')
        continue;
      others.push_back({fs::last_write_time(entry.path(), ec), entry.path()});
    }
    std::sort(others.begin(), others.end(), [](auto &a, auto &b) { return a.first > b.first; });
    for (size_t i = size_t(std::max<int64_t>(keep, 0)); i < others.size(); ++i)
      fs::remove_all(others[i].second, ec);
  }
};

} // namespace

std::unique_ptr<Adapter> makeStaticAdapter() { return std::make_unique<StaticAdapter>(); }

} // namespace dpl::runtime
