// The hand-written parser (FastParser in compiler/parse/Parser.cpp) must
// build exactly the AST that ANTLR's parse tree gives through ASTBuilder, and
// leave every declaration it does not take to ANTLR with nothing reported.
// Each input is parsed with ParseOptions::fastPaths on and off, and the two
// ASTs (every node, value and source range) and diagnostics are compared.
#include "tests/unit/TestUtil.h"

#include <gtest/gtest.h>
#include <llvm/Support/ConvertUTF.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/Path.h>

#include <string>
#include <vector>

using namespace dpl;
using namespace dpl::ast;
using llvm::cast;

namespace {

/// A complete, deterministic rendering of an AST with byte offsets.
class Dumper {
public:
  explicit Dumper(const char *base) : base_(base) {}
  std::string out;

  void file(const SourceFile &f) {
    out += "file parsedOk=" + std::to_string(f.parsedOk) + "\n";
    for (const Decl *d : f.decls)
      decl(d);
  }

private:
  std::string r(llvm::SMRange x) {
    if (!x.Start.isValid())
      return "[-]";
    return "[" + std::to_string(x.Start.getPointer() - base_) + "," +
           std::to_string(x.End.getPointer() - base_) + ")";
  }
  std::string n(const Name &x) { return "'" + x.text + "'" + r(x.range); }
  void line(int depth, const std::string &s) { out += std::string(size_t(depth) * 2, ' ') + s + "\n"; }

  void decl(const Decl *d) {
    line(0, "decl " + spelling(d->kind).str() + r(d->range) + " kw" + r(d->keyword) + " " + n(d->name));
    if (auto *b = llvm::dyn_cast<BlockDecl>(d)) {
      line(1, "close" + r(b->closeBrace));
      stmts(b->body, 1);
    } else if (auto *g = llvm::dyn_cast<GroupDecl>(d)) {
      expr(g->value, 1);
    } else if (auto *g = llvm::dyn_cast<GuardDecl>(d)) {
      for (auto &p : g->params)
        param(p, 1);
      stmts(g->body, 1);
    } else if (auto *rd = llvm::dyn_cast<RecordDecl>(d)) {
      line(1, "family " + n(rd->family));
      for (auto &p : rd->fields)
        param(p, 1);
    } else if (auto *s = llvm::dyn_cast<SchemaDecl>(d)) {
      for (auto &p : s->fields)
        param(p, 1);
    } else if (auto *e = llvm::dyn_cast<EnumDecl>(d)) {
      for (auto &m : e->members)
        line(1, "member " + n(m));
    }
  }
  void param(const ParamDecl &p, int depth) {
    line(depth, "param " + n(p.name) + r(p.range));
    type(p.type, depth + 1);
    if (p.defaultValue)
      expr(p.defaultValue, depth + 1);
  }
  void type(const TypeRef &t, int depth) {
    line(depth, "type " + n(t.name) + r(t.range) + " opt=" + std::to_string(t.optional) +
                    " union=" + std::to_string(t.isUnion));
    for (auto &a : t.args)
      type(a, depth + 1);
  }
  void stmts(const std::vector<Stmt *> &body, int depth) {
    for (const Stmt *s : body)
      stmt(s, depth);
  }
  void stmt(const Stmt *s, int depth) {
    switch (s->kind) {
    case StmtKind::Field: {
      auto *f = cast<FieldStmt>(s);
      line(depth, "field " + n(f->name) + r(s->range));
      expr(f->value, depth + 1);
      return;
    }
    case StmtKind::In: {
      auto *i = cast<InStmt>(s);
      line(depth, "in" + r(s->range));
      expr(i->predicate, depth + 1);
      stmts(i->body, depth + 1);
      return;
    }
    case StmtKind::When: line(depth, "when" + r(s->range)); expr(cast<WhenStmt>(s)->predicate, depth + 1); return;
    case StmtKind::Constrain:
      line(depth, "constrain" + r(s->range));
      expr(cast<ConstrainStmt>(s)->predicate, depth + 1);
      return;
    case StmtKind::Require: {
      auto *q = cast<RequireStmt>(s);
      line(depth, "require " + n(q->guard) + r(s->range) + " parens=" + std::to_string(q->hasParens));
      args(q->args, depth + 1);
      return;
    }
    }
  }
  void args(const std::vector<Arg> &as, int depth) {
    for (auto &a : as) {
      line(depth, "arg " + n(a.name) + r(a.range));
      expr(a.value, depth + 1);
    }
  }
  void expr(const Expr *e, int depth) {
    if (!e) {
      line(depth, "(null)");
      return;
    }
    std::string head = std::to_string(int(e->kind)) + r(e->range);
    switch (e->kind) {
    case ExprKind::Error: line(depth, "error" + head); return;
    case ExprKind::Int: line(depth, "int" + head + " " + std::to_string(cast<IntExpr>(e)->value)); return;
    case ExprKind::Float: {
      auto *f = cast<FloatExpr>(e);
      line(depth, "float" + head + " " + std::to_string(f->value) + " " + f->spelling);
      return;
    }
    case ExprKind::Bool: line(depth, "bool" + head + " " + std::to_string(cast<BoolExpr>(e)->value)); return;
    case ExprKind::String: {
      auto *s = cast<StringExpr>(e);
      line(depth, "string" + head + " \"" + s->value + "\"");
      for (auto &i : s->interpolations) {
        std::string path;
        for (auto &p : i.path)
          path += p + ".";
        line(depth + 1, "interp " + path + r(i.range));
      }
      return;
    }
    case ExprKind::Duration: {
      auto *d = cast<DurationExpr>(e);
      line(depth, "duration" + head + " " + std::to_string(d->millis) + " " + d->spelling);
      return;
    }
    case ExprKind::Percent: {
      auto *p = cast<PercentExpr>(e);
      line(depth, "percent" + head + " " + std::to_string(p->value) + " " + p->spelling);
      return;
    }
    case ExprKind::Time: {
      auto *t = cast<TimeExpr>(e);
      line(depth, "time" + head + " " + std::to_string(t->hour) + ":" + std::to_string(t->minute) + " " +
                      t->spelling);
      return;
    }
    case ExprKind::Name: line(depth, "name" + head + " " + cast<NameExpr>(e)->name); return;
    case ExprKind::Member: {
      auto *m = cast<MemberExpr>(e);
      line(depth, "member" + head + " " + n(m->member));
      expr(m->base, depth + 1);
      return;
    }
    case ExprKind::Call: {
      auto *c = cast<CallExpr>(e);
      line(depth, "call" + head);
      expr(c->callee, depth + 1);
      args(c->args, depth + 1);
      return;
    }
    case ExprKind::List:
      line(depth, "list" + head);
      for (const Expr *x : cast<ListExpr>(e)->elements)
        expr(x, depth + 1);
      return;
    case ExprKind::Map:
      line(depth, "map" + head);
      for (auto &en : cast<MapExpr>(e)->entries) {
        line(depth + 1, "key " + n(en.key));
        expr(en.value, depth + 2);
      }
      return;
    case ExprKind::Record: {
      auto *rc = cast<RecordExpr>(e);
      line(depth, "record" + head + " " + n(rc->kindName));
      stmts(rc->body, depth + 1);
      return;
    }
    case ExprKind::Unary: {
      auto *u = cast<UnaryExpr>(e);
      line(depth, "unary" + head + " " + std::to_string(int(u->op)));
      expr(u->operand, depth + 1);
      return;
    }
    case ExprKind::Binary: {
      auto *b = cast<BinaryExpr>(e);
      line(depth, "binary" + head + " " + spelling(b->op).str() + r(b->opRange));
      expr(b->lhs, depth + 1);
      expr(b->rhs, depth + 1);
      return;
    }
    }
  }
  const char *base_;
};

/// The AST dump and the diagnostics of `text` parsed with the fast paths on
/// or off.
std::string parsed(const std::string &text, bool fast, bool isStdlib) {
  TestTree t;
  unsigned id = t.sources.addBuffer(llvm::MemoryBuffer::getMemBufferCopy(text, "f.dpl"), "f.dpl", "f.dpl");
  ParseOptions options;
  options.fastPaths = fast;
  SourceFile *f = parseFile(id, "f.dpl", isStdlib, t.ctx, t.diags, options);
  Dumper d(t.sources.text(id).data());
  d.file(*f);
  return d.out + "--\n" + t.rendered();
}

void expectSameParse(const std::string &text, const std::string &what, bool isStdlib = false) {
  // Compilation never parses text that is not UTF-8 (E002).
  const llvm::UTF8 *p = reinterpret_cast<const llvm::UTF8 *>(text.data());
  if (!llvm::isLegalUTF8String(&p, p + text.size()))
    return;
  std::string fast = parsed(text, true, isStdlib), slow = parsed(text, false, isStdlib);
  EXPECT_EQ(fast, slow) << what;
}

/// The `//--- NAME` sections of a split-file input, or the whole text.
std::vector<std::string> sections(const std::string &text) {
  std::vector<std::string> out;
  size_t at = 0;
  std::string current;
  bool split = false;
  while (at <= text.size()) {
    size_t nl = text.find('\n', at);
    std::string line = text.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
    if (llvm::StringRef(line).startswith("//--- ")) {
      if (split)
        out.push_back(current);
      current.clear();
      split = true;
    } else {
      current += line + "\n";
    }
    if (nl == std::string::npos)
      break;
    at = nl + 1;
  }
  out.push_back(current);
  return out;
}

} // namespace

// Every construct of the grammar, valid, with the ranges that matter
// (parenthesised operands, `not in`, trailing commas, records in lists,
// keywords used as names).
TEST(FastParser, BuildsTheSameAstAsAntlr) {
  const char *inputs[] = {
      "owner platform;\nstakeholder platform { paths = [\"*.dpl\", \"x/**\",]; may = [environments]; }\n",
      "environment prod-eu { tier = \"prod\"; after = [staging]; runtime = process { workdir = \".d\"; "
      "base_port = 18000; }; }\n",
      "defaults { replicas = 2; health = http { path = \"/healthz\"; }; }\n",
      "service api {\n  artifact = image(\"registry.acme.io/api:${version}\");\n  replicas = -(1 + 2) - 3;\n"
      "  in tier == \"prod\" and not (region in [\"eu\", \"us\"]) { replicas = 4; }\n"
      "  in prod-eu { when = 1; require = 2; constrain = 3; }\n"
      "  require approval(group = sre, count = 2,);\n  require smoke_test;\n  require soak();\n}\n",
      "rule r { when env.tier == \"prod\" and service.name matches \"*-ledger\" or x not in [a, b]; "
      "constrain replicas <= 4; constrain (a) == b; constrain a.b.c(d)(e).f != 1.5; }\n",
      "group sre = [\"@a\", \"@b\"];\ngroup g = { a: 1, \"b c\" = [x { y = 2; }], };\n",
      "rule t { constrain window >= 09:30 and soak < 1h30m and p > 2.5% and q >= 10% and x == true "
      "and y != false and z == 500ms; }\n",
      "service s { artifact = exec([\"./a\", \"--env\", \"${env.name}\", \"\\$x \\\" \\\\ \\n\"]); }\n",
      "owner a; owner b;\nservice x {}\n",
      "",
      "// only comments\n/* and more */\n",
  };
  for (const char *in : inputs)
    expectSameParse(in, in);
}

TEST(FastParser, BuildsTheSameStdlibDeclarations) {
  const char *inputs[] = {
      "record process : runtime { workdir: string; base_port: int? = 8000; env: map<string, string> = {} }\n",
      "schema service { name: string; replicas: int = 1 artifact: artifact; depends_on: list<service> = []; }\n",
      "enum on_failure { rollback, halt, }\nenum empty {}\n",
      "guard approval(group: group, count: int = 1, phase: string | int?,) { phase = gate; }\n",
  };
  for (const char *in : inputs)
    expectSameParse(in, in, /*isStdlib=*/true);
}

// Declarations the fast parser gives up on: the builder's diagnostics and
// ANTLR's syntax errors and recovery must come out exactly as before.
TEST(FastParser, LeavesErrorsToAntlrWithNothingReportedTwice) {
  const char *inputs[] = {
      "service a { replicas = 99999999999999999999; }\n",
      "service a { soak = 10x; timeout = 1h2; }\n",
      "service a { s = \"bad \\q escape ${} ${1x}\"; }\n",
      "rule r { when a && b || !c; }\n",
      "service a { x = 'single'; }\n",
      "service a { x = ; }\nservice b { y = 1; }\n",
      "service a { x = 1 }\nservice b { y = [1, 2; }\n",
      "service a {\n  x = 1;\nservice b { }\n",
      "owner \"ops\";\n",
      "rule r { when a not b; }\n",
      "group g = [a {}, b { c = d e; }];\n",
      "service a { in x == { } }\n",
  };
  for (const char *in : inputs)
    expectSameParse(in, in);
}

// Every .dpl file and split-file section in the repository (and the local
// fuzz corpus when there is one).
TEST(FastParser, BuildsTheSameAstOnEveryRepositoryInput) {
  std::string root = DEPLOYC_SOURCE_DIR;
  size_t inputs = 0;
  for (const char *dir : {"/examples", "/stdlib", "/tests/lit", "/fuzz/corpus/fuzz_frontend"}) {
    std::error_code ec;
    for (llvm::sys::fs::recursive_directory_iterator it(root + dir, ec), end; it != end && !ec;
         it.increment(ec)) {
      if (it->type() != llvm::sys::fs::file_type::regular_file)
        continue;
      auto buf = llvm::MemoryBuffer::getFile(it->path());
      ASSERT_TRUE(bool(buf)) << it->path();
      bool isStdlib = llvm::StringRef(it->path()).contains("/stdlib/");
      for (const std::string &text : sections((*buf)->getBuffer().str())) {
        expectSameParse(text, it->path(), isStdlib);
        ++inputs;
      }
    }
  }
  EXPECT_GT(inputs, 300u);
}

// Random token sequences, mostly invalid: whatever the fast parser does
// with them (take them or give them up), the result is ANTLR's.
TEST(FastParser, BuildsTheSameAstOnRandomTokens) {
  const char *pieces[] = {"service", "rule", "group", "owner", "a", "b", "{", "}", "=", ";", "[", "]", ",",
                          "(", ")", ".", "in", "when", "not", "and", "or", "==", "<", ">=", "+", "-",
                          "require", "constrain", "1", "30s", "\"s\"", "true", "matches", ":", "x", "\n"};
  const size_t count = sizeof pieces / sizeof *pieces;
  uint64_t state = 0x2545F4914F6CDD1Dull;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  const char *starts[] = {"service a { ", "rule r { ", "group g = ", "service a { x = "};
  for (int round = 0; round < 3000; ++round) {
    std::string text = starts[next() % 4];
    size_t len = next() % 14;
    for (size_t k = 0; k < len; ++k)
      text += std::string(pieces[next() % count]) + " ";
    if (next() % 2)
      text += next() % 2 ? "; }" : "}";
    expectSameParse(text, text);
    if (HasFailure())
      return;
  }
}
