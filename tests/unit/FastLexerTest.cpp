// The hand-written lexer (compiler/parse/FastLexer.h) must give exactly the
// tokens of the generated ANTLR lexer whenever it does not decline: the
// parser, the diagnostics and every source range are built from them.
#include "compiler/parse/FastLexer.h"

#include <gtest/gtest.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/Path.h>

#include <string>
#include <vector>

using namespace dpl;

namespace {

/// Every file under `dir` (recursively).
std::vector<std::string> filesUnder(const std::string &dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (llvm::sys::fs::recursive_directory_iterator it(dir, ec), end; it != end && !ec; it.increment(ec))
    if (it->type() == llvm::sys::fs::file_type::regular_file)
      out.push_back(it->path());
  return out;
}

} // namespace

// Edge cases of longest match and rule order, each next to its neighbours.
TEST(FastLexer, AgreesWithAntlrOnTrickyTokens) {
  const char *inputs[] = {
      "1:30 12:34 1:3 123:45 12:345 1:",
      "1.5% 10% 1.5 1. .5 1..2 007 1.5.5",
      "30s 1h30m 500ms 10x 1e5 2d-x 3_",
      "in in-x inx not-in truex true false owner owners service_ matches",
      "a-b -1 - -x a--b _ __a x9 9x",
      "== != <= >= = ! < > | || ? : ; , . + - ( ) [ ] { }",
      "!== <=> ||| === >>= a.b.c(d=1, e)",
      "\"\" \"a\" \"a\\\"b\" \"tab\\t\" \"a\\\nb\" \"${env.name}\" \"$$\"",
      "/**/ /* a */ /*/ */ /* * / */ x // c\r\ny //\n/***/",
      "x\r\n\ty\f z\n\n\n  w",
      "group g = [dev, staging,];\nrule r { when env.tier == \"prod\" and not (x in [1, 2]); }",
      "",
      "   ",
      "a",
      "// only a comment",
  };
  for (const char *in : inputs) {
    std::string diff;
    EXPECT_EQ(compareLexers(in, &diff), LexerAgreement::Same) << "input: " << in << "\n" << diff;
  }
}

// What it leaves to ANTLR: the text whose tokens carry a diagnostic, and
// characters whose longest match depends on bad-character runs.
TEST(FastLexer, DeclinesWhatItDoesNotHandle) {
  const char *inputs[] = {
      "\"unterminated", "\"line\nbreak\"", "/* open", "a / b", "# hash", "'sq'", "a && b",
      "$x", "@", "caf\xC3\xA9", "\"caf\xC3\xA9\"", "x \\ y", "\"esc at end\\", "1 * 2", "50%%", "1.%",
  };
  for (const char *in : inputs)
    EXPECT_EQ(compareLexers(in), LexerAgreement::Declined) << "input: " << in;
}

// Every policy, stdlib and test input in the repository (and the local fuzz
// corpus, when there is one): the same tokens, or declined.
TEST(FastLexer, AgreesWithAntlrOnEveryRepositoryInput) {
  std::string root = DEPLOYC_SOURCE_DIR;
  size_t same = 0, declined = 0;
  for (const char *dir : {"/examples", "/stdlib", "/tests/lit", "/fuzz/corpus/fuzz_frontend"}) {
    for (const std::string &path : filesUnder(root + dir)) {
      auto buf = llvm::MemoryBuffer::getFile(path);
      if (!buf)
        continue; // the fuzzer may replace corpus files while this runs
      std::string diff;
      switch (compareLexers((*buf)->getBuffer(), &diff)) {
      case LexerAgreement::Same: ++same; break;
      case LexerAgreement::Declined: ++declined; break;
      case LexerAgreement::Different: ADD_FAILURE() << path << ": " << diff; break;
      }
    }
  }
  // The examples and the stdlib alone are dozens of files the fast path takes.
  EXPECT_GT(same, 50u);
  std::printf("fast lexer: %zu inputs lexed the same, %zu declined\n", same, declined);
}

// Random texts over the characters where the rules compete (digits, `:`,
// `.`, `%`, letters, `-`, quotes, escapes, comment delimiters, operators):
// deterministic, 20 000 of them, none may lex differently.
TEST(FastLexer, AgreesWithAntlrOnRandomText) {
  const char *pieces[] = {"1", "2", "0", ":", ".", "%", "s", "h", "m", "a", "Z", "-", "_", "\"", "\\",
                          "\n", "\r", " ", "\t", "/", "*", "=", "!", "<", ">", "|", "in", "not", "true",
                          "owner", "{", "}", "(", ")", "[", "]", ",", ";", "?", "+", "//", "/*", "*/"};
  const size_t numPieces = sizeof pieces / sizeof *pieces;
  uint64_t state = 0x9E3779B97F4A7C15ull;
  auto next = [&] { // xorshift64
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  size_t same = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string text;
    size_t len = 1 + next() % 12;
    for (size_t k = 0; k < len; ++k)
      text += pieces[next() % numPieces];
    std::string diff;
    LexerAgreement a = compareLexers(text, &diff);
    ASSERT_NE(a, LexerAgreement::Different) << "input: \"" << text << "\"\n" << diff;
    same += a == LexerAgreement::Same;
  }
  EXPECT_GT(same, 2000u); // the fast path is exercised, not only declined
}
