// A hand-written lexer for the common case of DPL text, giving exactly the
// tokens the generated ANTLR lexer (grammar/DPL.g4) gives, about 20 times
// faster. It handles plain ASCII policy: names and keywords, numbers,
// durations, percentages, times, terminated strings, `//` and closed `/* */`
// comments, whitespace and the operators. On anything else (non-ASCII text,
// a character the grammar calls bad, `#`, `'`, `&`, an unterminated string or
// comment) it declines, and the caller lexes the file with ANTLR, whose
// tokens are then the ones the diagnostics are built from. Agreement with
// ANTLR is tested token by token (type, channel, start, stop, line, column)
// on every test input and fuzz seed (tests/unit/FastLexerTest.cpp).
#pragma once

#include <llvm/ADT/StringRef.h>

#include <memory>
#include <string>
#include <vector>

namespace antlr4 {
class CharStream;
class Lexer;
class Token;
} // namespace antlr4

namespace dpl {

/// The tokens fastLex made, in order, ending with EOF. They are owned here
/// (allocated in blocks, not one by one) and borrowed by the token stream.
class LexedTokens {
public:
  LexedTokens();
  ~LexedTokens();
  std::vector<antlr4::Token *> tokens;

private:
  struct Storage;
  std::unique_ptr<Storage> storage_;
  friend bool fastLex(llvm::StringRef, antlr4::Lexer &, antlr4::CharStream &, LexedTokens &);
};

/// Lexes `text` (what `lexer` reads from `input`, one byte per character)
/// into `out`, as `lexer` would: CommonTokens with {lexer, input} as their
/// source and the fields the lexer's default token factory gives them, the
/// hidden-channel comments included and whitespace skipped; token indices
/// are left to the stream. Returns false, with `out` empty, when the text
/// is outside the handled subset (see above). `lexer` must be a
/// dpl::gen::DPLLexer; it is not run.
bool fastLex(llvm::StringRef text, antlr4::Lexer &lexer, antlr4::CharStream &input, LexedTokens &out);

/// For tests and fuzzing: lexes `text` with both lexers and compares every
/// token (type, channel, start, stop, line, column). Declined: fastLex did
/// not handle the text; Different: `difference` says where they part.
enum class LexerAgreement { Declined, Same, Different };
LexerAgreement compareLexers(llvm::StringRef text, std::string *difference = nullptr);

} // namespace dpl
