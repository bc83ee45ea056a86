// Checker tests: globs, types, stdlib loading, and checks on small programs
// (asserting exact diagnostics).
#include "tests/unit/TestUtil.h"

#include "compiler/sema/Model.h"

#include <gtest/gtest.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/Path.h>

using namespace dpl;

TEST(Glob, StarStaysInOneSegmentDoubleStarCrosses) {
  EXPECT_TRUE(globMatch("*.dpl", "org.dpl"));
  EXPECT_FALSE(globMatch("*.dpl", "platform/env.dpl"));
  EXPECT_TRUE(globMatch("platform/**", "platform/env.dpl"));
  EXPECT_TRUE(globMatch("platform/**", "platform/a/b/c.dpl"));
  EXPECT_FALSE(globMatch("platform/**", "platformx/a.dpl"));
  EXPECT_TRUE(globMatch("**/x.dpl", "x.dpl"));
  EXPECT_TRUE(globMatch("**/x.dpl", "a/b/x.dpl"));
  EXPECT_TRUE(globMatch("svc-?", "svc-1"));
  EXPECT_FALSE(globMatch("svc-?", "svc-12"));
  EXPECT_TRUE(globMatch("api-[0-9]", "api-7"));
  EXPECT_FALSE(globMatch("api-[!0-9]", "api-7"));
  EXPECT_TRUE(globMatch("payments*", "payments"));
  EXPECT_TRUE(globMatch("payments*", "payments-ledger"));
  EXPECT_TRUE(globMatch("a/**/b.dpl", "a/b.dpl"));
  EXPECT_TRUE(globMatch("a/**/b.dpl", "a/x/y/b.dpl"));
  EXPECT_FALSE(globMatch("a/*/b.dpl", "a/x/y/b.dpl"));
}

TEST(Glob, PathologicalPatternsStayPolynomial) {
  // Backtracking matchers take exponential time here; this must be instant.
  std::string pattern;
  for (int i = 0; i < 25; ++i)
    pattern += "*a";
  pattern += "*b";
  EXPECT_FALSE(globMatch(pattern, std::string(200, 'a')));
  EXPECT_TRUE(globMatch(pattern, std::string(200, 'a') + "b"));
}

TEST(Types, InterningAndSpelling) {
  TypeContext types;
  const Type *s = types.primitive(TypeKind::String);
  EXPECT_EQ(types.list(s), types.list(s));
  EXPECT_EQ(TypeContext::spell(types.map(types.list(s))), "map<string, list<string>>");
  EXPECT_EQ(TypeContext::spell(types.optional(types.primitive(TypeKind::Duration))), "duration?");
  EXPECT_EQ(TypeContext::describe(types.ref(RefKind::Environment)), "an environment name");
  EXPECT_EQ(types.optional(types.optional(s)), types.optional(s));
}

namespace {

/// Loads the real stdlib, then checks `files` (relative path → text).
struct Program {
  TestTree t;
  std::unique_ptr<Stdlib> stdlib;
  std::unique_ptr<Model> model;

  explicit Program(std::vector<std::pair<std::string, std::string>> files) {
    std::error_code ec;
    std::vector<std::string> stdFiles;
    for (llvm::sys::fs::directory_iterator it(DEPLOYC_STDLIB_DIR, ec), end; it != end && !ec;
         it.increment(ec))
      if (llvm::StringRef(it->path()).endswith(".dpl"))
        stdFiles.push_back(it->path());
    std::sort(stdFiles.begin(), stdFiles.end());
    std::vector<const ast::SourceFile *> stdAst, policy;
    for (auto &p : stdFiles) {
      auto buf = llvm::MemoryBuffer::getFile(p);
      stdAst.push_back(t.parse((*buf)->getBuffer().str(), llvm::sys::path::filename(p).str(), true));
    }
    stdlib = loadStdlib(stdAst, t.diags);
    for (auto &[rel, text] : files)
      policy.push_back(t.parse(text, rel));
    model = checkProgram(policy, *stdlib, t.diags);
  }
};

const char *kOrg = "owner platform;\n"
                   "stakeholder platform { paths = [\"*.dpl\", \"platform/**\"]; may = [environments, defaults]; }\n"
                   "stakeholder team { paths = [\"team/**\"]; services = [\"api\"]; }\n"
                   "group sre = [\"@a\", \"@b\"];\n";
const char *kEnvs = "owner platform;\n"
                    "environment dev { tier = \"dev\"; runtime = process { workdir = \"d\"; }; }\n"
                    "environment prod { tier = \"prod\"; after = [dev]; runtime = process { workdir = \"p\"; }; }\n";

} // namespace

TEST(Stdlib, DeclaresGuardsRuntimesAndSchemas) {
  Program p({});
  ASSERT_EQ(p.t.diags.errorCount(), 0u) << p.t.rendered();
  for (const char *g : {"approval", "window", "freeze", "resource", "soak", "metric", "alerts", "test"})
    EXPECT_NE(p.stdlib->guard(g), nullptr) << g;
  EXPECT_EQ(p.stdlib->guard("soak")->phase, GuardPhase::Verify);
  EXPECT_EQ(p.stdlib->guard("approval")->phase, GuardPhase::Gate);
  auto runtimes = p.stdlib->families.at("runtime");
  std::vector<std::string> names;
  for (auto *r : runtimes)
    names.push_back(r->name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"kubernetes", "plugin", "process", "static"}));
  EXPECT_TRUE(p.stdlib->schema("service")->field("artifact")->required());
  EXPECT_FALSE(p.stdlib->schema("service")->field("replicas")->required());
}

TEST(Checker, ValidProgramHasNoDiagnostics) {
  Program p({{"org.dpl", kOrg},
             {"platform/envs.dpl", kEnvs},
             {"team/api.dpl", "owner team;\nservice api {\n  artifact = exec([\"x\", \"${port}\"]);\n"
                              "  in prod { replicas = 3; }\n  require soak(30s);\n}\n"}});
  EXPECT_EQ(p.t.rendered(), "");
  EXPECT_EQ(p.model->environments.size(), 2u);
  EXPECT_EQ(p.model->environment("prod")->after, (std::vector<std::string>{"dev"}));
  EXPECT_EQ(p.model->service("api")->owner->name, "team");
}

TEST(Checker, TypeErrorsInGuardArguments) {
  Program p({{"org.dpl", kOrg},
             {"platform/envs.dpl", kEnvs},
             {"team/api.dpl", "owner team;\nservice api {\n  artifact = exec([\"x\"]);\n"
                              "  require soak(10);\n"
                              "  require window(days = [mon, fry], from = 09:00, to = 25:00, tz = \"Mars/Base\");\n"
                              "  require approval(group = sre, count = 0);\n"
                              "}\n"}});
  EXPECT_EQ(p.t.rendered(),
            "4:16: E401 `10` is a plain number where a duration is expected\n"
            "5:31: E404 unknown weekday `fry`\n"
            "5:56: E403 invalid time of day `25:00`: hours must be 00..23 (or 24:00)\n"
            "5:68: E217 unknown time zone `Mars/Base`: expected an IANA name such as `Europe/Berlin` or `UTC`\n"
            "6:41: E412 `count` must be at least 1, found `0`\n");
}

TEST(Checker, AuthorityErrors) {
  Program p({{"org.dpl", kOrg},
             {"platform/envs.dpl", kEnvs},
             {"team/api.dpl", "owner team;\nservice billing { artifact = exec([\"x\"]); }\n"
                              "rule r { require soak(1m); }\n"},
             {"team/more.dpl", "owner platform;\n"}});
  EXPECT_EQ(p.t.rendered(),
            "2:9: E304 stakeholder `team` may not declare service `billing`: its `services` are [\"api\"]\n"
            "3:10: E303 stakeholder `team` may not require guards in rules: it lacks the `require` capability\n"
            "1:7: E301 owner `platform` may not own `team/more.dpl`: its `paths` are [\"*.dpl\", \"platform/**\"]\n");
}

TEST(Checker, CyclesListEveryMember) {
  Program p({{"org.dpl", kOrg},
             {"platform/envs.dpl",
              "owner platform;\n"
              "environment a { after = [c]; runtime = process { workdir = \"a\"; }; }\n"
              "environment b { after = [a]; runtime = process { workdir = \"b\"; }; }\n"
              "environment c { after = [b]; runtime = process { workdir = \"c\"; }; }\n"}});
  EXPECT_EQ(p.t.rendered(), "2:26: E500 environments form a cycle through `after`: `a` → `c` → `b` → `a`\n");
}

TEST(Checker, PredicatesMustBeBoolean) {
  Program p({{"org.dpl", kOrg},
             {"platform/envs.dpl", kEnvs},
             {"team/api.dpl", "owner team;\nservice api {\n  artifact = exec([\"x\"]);\n"
                              "  in tier { replicas = 2; }\n  in region { replicas = 2; }\n"
                              "  in env.tier == \"prod\" and replicas { replicas = 2; }\n}\n"}});
  EXPECT_EQ(p.t.rendered(),
            "4:6: E201 unknown environment `tier`\n"
            "5:6: E201 unknown environment `region`\n"
            "6:29: E214 unknown name `replicas` in an `in` predicate\n");
}
