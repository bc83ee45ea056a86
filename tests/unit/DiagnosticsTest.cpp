// Diagnostics engine tests: the table, typo suggestions, ordering, limits and
// the machine-readable renderings (JSON, SARIF, GitHub).
#include "tests/unit/TestUtil.h"

#include <gtest/gtest.h>
#include <llvm/Support/JSON.h>

#include <regex>
#include <set>

using namespace dpl;

TEST(DiagnosticTable, IdsAreUniqueAndWellFormed) {
  std::set<std::string> ids, names;
  std::regex idPattern("[EWN][0-9]{3}");
  for (const DiagInfo &info : allDiagInfos()) {
    EXPECT_TRUE(ids.insert(info.id).second) << info.id;
    EXPECT_TRUE(names.insert(info.name).second) << info.name;
    EXPECT_TRUE(std::regex_match(std::string(info.id), idPattern)) << info.id;
    char kind = info.id[0];
    EXPECT_EQ(kind == 'E', info.severity == Severity::Error) << info.id;
    EXPECT_EQ(kind == 'W', info.severity == Severity::Warning) << info.id;
    // Message style: lower case start, no trailing period.
    std::string fmt = info.format;
    ASSERT_FALSE(fmt.empty());
    EXPECT_NE(fmt.back(), '.') << info.id;
    EXPECT_FALSE(std::isupper(static_cast<unsigned char>(fmt[0]))) << info.id;
  }
}

TEST(DiagnosticTable, FormatsUseEveryArgument) {
  // format() must not throw for the arity the call sites use; spot-check a few.
  SourceManager sm;
  DiagnosticEngine d(sm);
  EXPECT_EQ(d.format(DiagId::E201, "environment", "prod-ue"), "unknown environment `prod-ue`");
  EXPECT_EQ(d.format(DiagId::E401, 10), "`10` is a plain number where a duration is expected");
  EXPECT_EQ(d.format(DiagId::N003, 10), "add a unit: `10s`, `10m`, `10h` or `10d`");
}

TEST(ClosestName, SuggestsWithinEditDistance) {
  std::vector<std::string> envs = {"dev", "staging", "prod-eu", "prod-us"};
  EXPECT_EQ(closestName("prod-ue", envs), "prod-eu");
  EXPECT_EQ(closestName("stagin", envs), "staging");
  EXPECT_EQ(closestName("qa", envs), "");
  EXPECT_EQ(closestName("dev", envs), ""); // an exact name is not a suggestion
}

TEST(QuotedList, JoinsWithConjunction) {
  EXPECT_EQ(quotedList({"a"}), "`a`");
  EXPECT_EQ(quotedList({"a", "b", "c"}, "or"), "`a`, `b` or `c`");
  EXPECT_EQ(quotedList({}), "none");
}

namespace {
struct Rendered {
  TestTree tree;
  std::string render(OutputFormat format) {
    std::string out;
    llvm::raw_string_ostream os(out);
    RenderOptions opts;
    opts.format = format;
    opts.toolVersion = "test";
    renderDiagnostics(tree.diags, os, opts);
    return os.str();
  }
};

llvm::SMRange rangeOf(TestTree &t, const char *needle, size_t len) {
  llvm::StringRef text = t.sources.text(1);
  const char *p = text.data() + text.find(needle);
  return {llvm::SMLoc::getFromPointer(p), llvm::SMLoc::getFromPointer(p + len)};
}
} // namespace

TEST(Render, TextIsSortedAndHasCaretRangeAndNotes) {
  Rendered r;
  r.tree.parse("owner x;\nenvironment dev { after = [stagin]; }\n", "env.dpl");
  r.tree.diags.report(DiagId::E201, rangeOf(r.tree, "stagin", 6), "environment", "stagin")
      .hint(DiagId::N002, "staging");
  r.tree.diags.report(DiagId::W001, rangeOf(r.tree, "dev", 3), "dev");
  EXPECT_EQ(r.render(OutputFormat::Text),
            "env.dpl:2:13: warning: environment `dev` has no `runtime`; its units cannot be deployed [W001]\n"
            "environment dev { after = [stagin]; }\n"
            "            ^~~\n"
            "env.dpl:2:28: error: unknown environment `stagin` [E201]\n"
            "environment dev { after = [stagin]; }\n"
            "                           ^~~~~~\n"
            "note: did you mean `staging`?\n"
            "1 error and 1 warning generated.\n");
}

TEST(Render, JsonFollowsTerraformValidateShape) {
  Rendered r;
  r.tree.parse("owner x;\ngroup g = 1;\n", "g.dpl");
  r.tree.diags.report(DiagId::E400, rangeOf(r.tree, "1;", 1), "a list of string", "integer `1`");
  auto parsed = llvm::json::parse(r.render(OutputFormat::Json));
  ASSERT_TRUE(bool(parsed));
  auto *root = parsed->getAsObject();
  EXPECT_EQ(*root->getString("format_version"), "1.0");
  EXPECT_EQ(*root->getBoolean("valid"), false);
  EXPECT_EQ(*root->getInteger("error_count"), 1);
  auto *d = root->getArray("diagnostics")->front().getAsObject();
  EXPECT_EQ(*d->getString("id"), "E400");
  EXPECT_EQ(*d->getString("severity"), "error");
  EXPECT_EQ(*d->getString("summary"), "expected a list of string, found integer `1`");
  auto *start = d->getObject("range")->getObject("start");
  EXPECT_EQ(*start->getInteger("line"), 2);
  EXPECT_EQ(*start->getInteger("column"), 11);
  EXPECT_EQ(*start->getInteger("byte"), 19);
}

TEST(Render, SarifHasRulesResultsAndRelatedLocations) {
  Rendered r;
  r.tree.parse("owner x;\ngroup g = [\"a\"];\ngroup g = [\"b\"];\n", "dir/groups.dpl");
  llvm::StringRef text = r.tree.sources.text(1);
  auto at = [&](size_t off, size_t len) {
    return llvm::SMRange(llvm::SMLoc::getFromPointer(text.data() + off),
                         llvm::SMLoc::getFromPointer(text.data() + off + len));
  };
  size_t second = text.rfind("g =");
  size_t first = text.find("g =");
  r.tree.diags.report(DiagId::E200, at(second, 1), "group", "g").note(at(first, 1), DiagId::N001, "g");
  auto parsed = llvm::json::parse(r.render(OutputFormat::Sarif));
  ASSERT_TRUE(bool(parsed));
  auto *root = parsed->getAsObject();
  EXPECT_EQ(*root->getString("version"), "2.1.0");
  auto *run = root->getArray("runs")->front().getAsObject();
  auto *driver = run->getObject("tool")->getObject("driver");
  EXPECT_EQ(*driver->getString("name"), "deployc");
  // Every error and warning id is a rule; notes are not.
  size_t rules = driver->getArray("rules")->size();
  size_t expected = 0;
  for (auto &info : allDiagInfos())
    expected += info.severity != Severity::Note;
  EXPECT_EQ(rules, expected);
  auto *res = run->getArray("results")->front().getAsObject();
  EXPECT_EQ(*res->getString("ruleId"), "E200");
  EXPECT_EQ(*res->getString("level"), "error");
  auto *phys = res->getArray("locations")->front().getAsObject()->getObject("physicalLocation");
  EXPECT_EQ(*phys->getObject("artifactLocation")->getString("uri"), "dir/groups.dpl");
  EXPECT_EQ(*phys->getObject("region")->getInteger("startLine"), 3);
  EXPECT_EQ(*phys->getObject("region")->getInteger("startColumn"), 7);
  auto *related = res->getArray("relatedLocations")->front().getAsObject();
  EXPECT_EQ(*related->getObject("message")->getString("text"), "`g` was first declared here");
  // ruleIndex points at the rule with the same id.
  int64_t idx = *res->getInteger("ruleIndex");
  EXPECT_EQ(*(*driver->getArray("rules"))[idx].getAsObject()->getString("id"), "E200");
}

TEST(Render, GithubAnnotationsEscapeData) {
  Rendered r;
  r.tree.parse("owner x;\n", "a,b.dpl");
  r.tree.diags.report(DiagId::E201, rangeOf(r.tree, "x", 1), "stakeholder", "x")
      .hint(DiagId::N002, "y");
  EXPECT_EQ(r.render(OutputFormat::Github),
            "::error file=a%2Cb.dpl,line=1,col=7,endLine=1,endColumn=8,title=E201 unknown-reference"
            "::unknown stakeholder `x`%0Anote: did you mean `y`?\n");
}

TEST(Engine, MaxErrorsShowsTheFirstErrorsInSourceOrder) {
  TestTree t;
  t.parse("owner x;\ngroup g = [\"a\"];\n");
  t.diags.setMaxErrors(1);
  llvm::StringRef text = t.sources.text(1);
  llvm::SMLoc line2 = llvm::SMLoc::getFromPointer(text.data() + text.find("group"));
  llvm::SMLoc line1 = llvm::SMLoc::getFromPointer(text.data());
  // Reported in the opposite order of the source: the limit applies after sorting.
  t.diags.report(DiagId::E300, line2);
  t.diags.report(DiagId::W001, line1, "dev");
  t.diags.report(DiagId::E306, line1);
  EXPECT_EQ(t.diags.errorCount(), 2u);
  EXPECT_TRUE(t.diags.droppedAny());
  auto shown = t.diags.shown();
  ASSERT_EQ(shown.size(), 2u);
  EXPECT_EQ(shown[0]->id, DiagId::W001);
  EXPECT_EQ(shown[1]->id, DiagId::E306);
}
