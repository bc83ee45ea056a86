// Lexer, parser and AST builder tests: literal values, precedence, ranges,
// recovery. Each test asserts the AST or the exact diagnostics.
#include "tests/unit/TestUtil.h"

#include <gtest/gtest.h>

using namespace dpl;
using namespace dpl::ast;
using llvm::cast;
using llvm::dyn_cast;

namespace {

/// Parses `group g = <expr>;` and returns the value expression.
const Expr *parseValue(TestTree &t, const std::string &value) {
  SourceFile *f = t.parse("group g = " + value + ";\n");
  if (f->decls.empty())
    return nullptr;
  return cast<GroupDecl>(f->decls[0])->value;
}

const Expr *parseWhen(TestTree &t, const std::string &pred) {
  SourceFile *f = t.parse("rule r { when " + pred + "; }\n");
  auto *rule = cast<BlockDecl>(f->decls.at(0));
  return cast<WhenStmt>(rule->body.at(0))->predicate;
}

} // namespace

TEST(Parser, SmokeParsesOwnerAndService) {
  TestTree t;
  SourceFile *f = t.parse("owner team;\nservice api { replicas = 2; }\n");
  ASSERT_EQ(f->decls.size(), 2u);
  EXPECT_EQ(f->decls[0]->kind, DeclKind::Owner);
  EXPECT_EQ(f->decls[0]->name.text, "team");
  auto *svc = cast<BlockDecl>(f->decls[1]);
  EXPECT_EQ(svc->name.text, "api");
  ASSERT_EQ(svc->body.size(), 1u);
  auto *field = cast<FieldStmt>(svc->body[0]);
  EXPECT_EQ(field->name.text, "replicas");
  EXPECT_EQ(cast<IntExpr>(field->value)->value, 2);
  EXPECT_EQ(t.rendered(), "");
}

TEST(Parser, DurationsAreMilliseconds) {
  struct Case {
    const char *text;
    int64_t millis;
  } cases[] = {{"30s", 30000}, {"10m", 600000}, {"1h30m", 5400000}, {"2d", 172800000}, {"500ms", 500}};
  for (auto &c : cases) {
    TestTree t;
    auto *d = llvm::dyn_cast_or_null<DurationExpr>(parseValue(t, c.text));
    ASSERT_NE(d, nullptr) << c.text;
    EXPECT_EQ(d->millis, c.millis) << c.text;
    EXPECT_EQ(t.rendered(), "");
  }
}

TEST(Parser, InvalidDurationUnitIsDiagnosedAtTheLiteral) {
  TestTree t;
  parseValue(t, "10x");
  EXPECT_EQ(t.rendered(),
            "1:11: E107 invalid duration literal `10x`: unknown unit `x`; use ms, s, m, h or d\n");
}

TEST(Parser, PercentTimeFloatAndBool) {
  TestTree t;
  EXPECT_DOUBLE_EQ(cast<PercentExpr>(parseValue(t, "0.5%"))->value, 0.5);
  auto *tm = cast<TimeExpr>(parseValue(t, "09:30"));
  EXPECT_EQ(tm->hour, 9);
  EXPECT_EQ(tm->minute, 30);
  EXPECT_DOUBLE_EQ(cast<FloatExpr>(parseValue(t, "2.25"))->value, 2.25);
  EXPECT_TRUE(cast<BoolExpr>(parseValue(t, "true"))->value);
  EXPECT_EQ(t.rendered(), "");
}

TEST(Parser, StringEscapesAndInterpolations) {
  TestTree t;
  auto *s = cast<StringExpr>(parseValue(t, R"("a\"b\\c ${ env.name }/${version}")"));
  EXPECT_EQ(s->value, "a\"b\\c ${env.name}/${version}");
  ASSERT_EQ(s->interpolations.size(), 2u);
  EXPECT_EQ(s->interpolations[0].path, (std::vector<std::string>{"env", "name"}));
  EXPECT_EQ(s->interpolations[1].path, (std::vector<std::string>{"version"}));
  // The range of an interpolation covers the name inside `${ }`.
  EXPECT_EQ(t.sources.lineCol(s->interpolations[0].range.Start).column, 23u);
  EXPECT_EQ(t.rendered(), "");
}

TEST(Parser, MalformedInterpolationAndEscape) {
  TestTree t;
  parseValue(t, R"("${1abc} \q ${x")");
  EXPECT_EQ(t.rendered(), "1:14: E106 malformed interpolation: `1abc` is not a name\n"
                          "1:20: E105 invalid escape sequence `\\q` in string\n"
                          "1:23: E106 malformed interpolation: missing `}`\n");
}

TEST(Parser, HyphenatedIdentifiersAndBinaryMinus) {
  TestTree t;
  auto *n = cast<NameExpr>(parseValue(t, "prod-eu"));
  EXPECT_EQ(n->name, "prod-eu");
  auto *b = cast<BinaryExpr>(parseValue(t, "a - b"));
  EXPECT_EQ(b->op, BinaryOp::Sub);
  EXPECT_EQ(t.rendered(), "");
}

TEST(Parser, OperatorPrecedence) {
  TestTree t;
  // not binds tighter than and, which binds tighter than or; comparisons bind tightest.
  EXPECT_EQ(toString(parseWhen(t, "not a == 1 and b or c in [1, 2]")),
            "((not (a == 1) and b) or (c in [1, 2]))");
  EXPECT_EQ(toString(parseWhen(t, "env.tier not in [\"prod\"]")), "(env.tier not in [\"prod\"])");
  EXPECT_EQ(toString(parseWhen(t, "service.name matches \"shop-*\"")),
            "(service.name matches \"shop-*\")");
  EXPECT_EQ(t.rendered(), "");
}

TEST(Parser, InBlockWithEnvironmentNameIsNotARecord) {
  TestTree t;
  SourceFile *f = t.parse("service api { in prod-eu { replicas = 4; } in tier == \"prod\" { require soak(1m); } }");
  auto *svc = cast<BlockDecl>(f->decls.at(0));
  ASSERT_EQ(svc->body.size(), 2u);
  auto *in1 = cast<InStmt>(svc->body[0]);
  EXPECT_EQ(cast<NameExpr>(in1->predicate)->name, "prod-eu");
  ASSERT_EQ(in1->body.size(), 1u);
  auto *in2 = cast<InStmt>(svc->body[1]);
  EXPECT_EQ(toString(in2->predicate), "(tier == \"prod\")");
  auto *req = cast<RequireStmt>(in2->body.at(0));
  EXPECT_EQ(req->guard.text, "soak");
  EXPECT_EQ(t.rendered(), "");
}

TEST(Parser, RecordsCallsMapsAndLists) {
  TestTree t;
  SourceFile *f = t.parse(
      "environment dev { runtime = process { workdir = \"w\"; base_port = 1; }; }\n"
      "group g = [exec([\"a\", \"b\"]), http(path = \"/h\"), {severity: \"page\", \"x-y\": \"z\"}];\n");
  auto *env = cast<BlockDecl>(f->decls.at(0));
  auto *rec = cast<RecordExpr>(cast<FieldStmt>(env->body.at(0))->value);
  EXPECT_EQ(rec->kindName.text, "process");
  EXPECT_EQ(rec->body.size(), 2u);
  auto *list = cast<ListExpr>(cast<GroupDecl>(f->decls.at(1))->value);
  ASSERT_EQ(list->elements.size(), 3u);
  auto *call = cast<CallExpr>(list->elements[1]);
  EXPECT_EQ(call->args.at(0).name.text, "path");
  auto *map = cast<MapExpr>(list->elements[2]);
  EXPECT_EQ(map->entries.at(1).key.text, "x-y");
  EXPECT_EQ(t.rendered(), "");
}

TEST(Parser, KeywordsUsableAsNames) {
  TestTree t;
  SourceFile *f = t.parse("stakeholder p { may = [environments, defaults, require, constrain]; }\n"
                          "rule r { when service.name == \"x\"; require approval(group = sre); }\n");
  EXPECT_EQ(f->decls.size(), 2u);
  EXPECT_EQ(t.rendered(), "");
}

TEST(Parser, MissingSemicolonIsReportedAfterThePreviousToken) {
  TestTree t;
  t.parse("service api {\n  replicas = 2\n  health = http(path = \"/h\");\n}\n");
  EXPECT_EQ(t.rendered(), "2:15: E100 expected `;` after field value\n");
}

TEST(Parser, IndependentErrorsAreEachReportedOnce) {
  TestTree t;
  SourceFile *f = t.parse("service a { replicas = ; }\n"
                          "service b { artifact = exec([\"x\"]) }\n"
                          "service c { replicas = 3; }\n");
  EXPECT_EQ(t.rendered(), "1:24: E100 expected a value, found `;`\n"
                          "2:35: E100 expected `;` after field value\n");
  // Recovery keeps every declaration.
  EXPECT_EQ(f->decls.size(), 3u);
  EXPECT_FALSE(f->parsedOk);
}

TEST(Parser, LexicalErrors) {
  TestTree t;
  t.parse("owner x; @@ group g = [\"a\"]; # note\n/* open");
  EXPECT_EQ(t.rendered(), "1:10: E103 invalid character `@` in source\n"
                          "1:30: E103 invalid character `#` in source\n"
                          "2:1: E102 unterminated `/*` comment\n");
}

TEST(Parser, UnterminatedStringDoesNotCascade) {
  TestTree t;
  t.parse("group g = [\"abc];\ngroup h = [\"x\"];\n");
  std::string out = t.rendered();
  EXPECT_EQ(out.find("1:12: E101 unterminated string literal\n"), 0u) << out;
}

TEST(Parser, DeepNestingIsRejectedWithoutRecursion) {
  TestTree t;
  std::string deep(10000, '[');
  deep += std::string(10000, ']');
  SourceFile *f = t.parse("group g = " + deep + ";");
  EXPECT_EQ(t.rendered(), "1:111: E104 brackets or prefix operators nested deeper than 100 levels\n");
  EXPECT_TRUE(f->decls.empty());
  TestTree t2;
  t2.parse("rule r { when " + std::string(5000, '-') + "1; }");
  EXPECT_NE(t2.rendered().find("E104"), std::string::npos);
}

TEST(Parser, UnicodeInCommentsKeepsByteColumns) {
  TestTree t;
  t.parse("// überall ✓\ngroup g = [\"é\", 12x];\n");
  EXPECT_EQ(t.rendered(), "2:18: E107 invalid duration literal `12x`: unknown unit `x`; use ms, s, m, h or d\n");
}

TEST(Parser, EmptyInputParsesToNoDeclarations) {
  TestTree t;
  SourceFile *f = t.parse("");
  EXPECT_TRUE(f->decls.empty());
  EXPECT_TRUE(f->parsedOk);
}

TEST(Parser, ForgottenCloseBraceStopsAtTheNextDeclaration) {
  TestTree t;
  SourceFile *f = t.parse("service a {\n  replicas = 2;\nservice b { replicas = 3; }\ngroup g = [\"x\"];\n");
  EXPECT_EQ(t.rendered(), "3:1: E100 expected `}` before `service`: the block above is not closed\n");
  ASSERT_EQ(f->decls.size(), 3u);
  EXPECT_EQ(f->decls[1]->name.text, "b");
}

TEST(Parser, DeclarationKeywordAsANameIsNotABoundary) {
  TestTree t;
  SourceFile *f = t.parse("schema service {\n  replicas: int = 1;\n}\nenum e { a, b }\n", "s.dpl", true);
  EXPECT_EQ(t.rendered(), "");
  EXPECT_EQ(f->decls.size(), 2u);
}

TEST(Parser, LongOperatorChainsAreRejectedBeforeTheyExhaustTheStack) {
  TestTree t;
  std::string chain = "a";
  for (int i = 0; i < 100000; ++i)
    chain += " or a";
  t.parse("rule r { when " + chain + "; }");
  EXPECT_EQ(t.rendered(), "1:5017: E110 expression has more than 1000 operators in a row; split it into "
                          "smaller expressions\n");
}

TEST(Parser, ByteOrderMarkIsSkippedAndOffsetsStayExact) {
  TestTree t;
  SourceFile *f = t.parse("\xEF\xBB\xBFowner p;\ngroup g = [\"a\", 5x];\n");
  EXPECT_EQ(f->decls.at(0)->name.text, "p");
  EXPECT_EQ(t.rendered(), "2:17: E107 invalid duration literal `5x`: unknown unit `x`; use ms, s, m, h or d\n");
}

TEST(Parser, RunsOfBadCharactersAreOneDiagnostic) {
  TestTree t;
  t.parse(std::string("owner p;\n") + std::string(100000, '\0') + "\ngroup g = [\"a\"];\n");
  EXPECT_EQ(t.rendered(), "2:1: E103 invalid character `U+0000` in source\n");
}

TEST(Parser, ErrorsInConsecutiveStatementsAreAllReported) {
  TestTree t;
  t.parse("service s {\n  require 5;\n  require 30s;\n}\n");
  EXPECT_EQ(t.rendered(), "2:11: E410 expected a guard after `require`, found `5`\n"
                          "3:11: E410 expected a guard after `require`, found `30s`\n");
}
