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

namespace {

/// The AST dump and the diagnostics of `text` parsed with the fast paths on
/// or off.
std::string parsed(const std::string &text, bool fast, bool isStdlib) {
  TestTree t;
  unsigned id = t.sources.addBuffer(llvm::MemoryBuffer::getMemBufferCopy(text, "f.dpl"), "f.dpl", "f.dpl");
  ParseOptions options;
  options.fastPaths = fast;
  SourceFile *f = parseFile(id, "f.dpl", isStdlib, t.ctx, t.diags, options);
  return dump(*f, t.sources.text(id).data()) + "--\n" + t.rendered();
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
      if (!buf)
        continue; // the fuzzer may replace corpus files while this runs
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
