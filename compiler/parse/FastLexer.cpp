// The hand-written lexer: the rules of grammar/DPL.g4's lexer, applied the way
// ANTLR applies them (longest match; on a tie, the rule defined first, and
// the literal tokens of the parser rules come before every lexer rule).
#include "compiler/parse/FastLexer.h"

#include "DPLLexer.h"
#include "antlr4-runtime.h"

#include <llvm/ADT/StringMap.h>

#include <array>
#include <deque>

using dpl::gen::DPLLexer;

namespace dpl {
namespace {

/// The literal tokens of the grammar ('owner', ';', '==' …) by text, read
/// from the generated vocabulary so they cannot drift from the grammar.
struct Literals {
  /// Keywords by length (at most a few per length): cheaper to compare
  /// than to hash, and most names are not keywords.
  std::array<std::vector<std::pair<std::string, size_t>>, 16> words;
  std::array<size_t, 128> one{};      ///< one-character operators (0: none)
  llvm::StringMap<size_t> two;        ///< two-character operators

  /// The keyword type of `word`, or IDENT.
  size_t wordType(llvm::StringRef word) const {
    if (word.size() < words.size())
      for (auto &[text, type] : words[word.size()])
        if (word == text)
          return type;
    return DPLLexer::IDENT;
  }

  explicit Literals(const antlr4::dfa::Vocabulary &vocab) {
    for (size_t type = 1; type <= vocab.getMaxTokenType(); ++type) {
      std::string lit = vocab.getLiteralName(type);
      if (lit.size() < 3 || lit.front() != '\'' || lit.back() != '\'')
        continue;
      lit = lit.substr(1, lit.size() - 2);
      if (isalpha(static_cast<unsigned char>(lit[0])) && lit.size() < words.size())
        words[lit.size()].push_back({lit, type});
      else if (lit.size() == 1)
        one[static_cast<unsigned char>(lit[0])] = type;
      else
        two[lit] = type;
    }
  }
};

/// A CommonToken with its fields set directly: the CommonToken constructor
/// that takes a source reads the line and column back from the lexer (two
/// virtual calls and a dynamic_cast per token) only to be overwritten, as
/// CommonTokenFactory::create does next.
class LexedToken : public antlr4::CommonToken {
public:
  LexedToken(std::pair<antlr4::TokenSource *, antlr4::CharStream *> source, size_t type, size_t channel,
             size_t start, size_t stop, size_t line, size_t column)
      : CommonToken(type) {
    _source = source;
    _channel = channel;
    _start = start;
    _stop = stop;
    _line = line;
    _charPositionInLine = column;
  }
};

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isLetter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

} // namespace

struct LexedTokens::Storage {
  std::deque<LexedToken> tokens; // stable addresses, allocated in blocks
};
LexedTokens::LexedTokens() : storage_(std::make_unique<Storage>()) {}
LexedTokens::~LexedTokens() = default;

bool fastLex(llvm::StringRef s, antlr4::Lexer &lexer, antlr4::CharStream &input, LexedTokens &result) {
  static const Literals lit(lexer.getVocabulary());
  const std::pair<antlr4::TokenSource *, antlr4::CharStream *> source(&lexer, &input);
  // Only the default factory's tokens are known to be plain CommonTokens
  // with no text of their own.
  if (lexer.getTokenFactory() != antlr4::CommonTokenFactory::DEFAULT.get())
    return false;
  std::deque<LexedToken> &pool = result.storage_->tokens;
  pool.clear();
  const size_t n = s.size();
  size_t i = 0, line = 1, column = 0;
  // Moves past [i, to), counting lines as ANTLR does (only '\n' ends one).
  auto advance = [&](size_t to) {
    for (; i < to; ++i) {
      if (s[i] == '\n') {
        ++line;
        column = 0;
      } else {
        ++column;
      }
    }
  };
  auto emit = [&](size_t type, size_t end, size_t channel = antlr4::Token::DEFAULT_CHANNEL) {
    pool.emplace_back(source, type, channel, i, end - 1, line, column);
    advance(end);
  };
  // Every `return false` below leaves `result` empty.
  struct ClearOnDecline {
    std::deque<LexedToken> &pool;
    bool done = false;
    ~ClearOnDecline() {
      if (!done)
        pool.clear();
    }
  } guard{pool};

  while (i < n) {
    char c = s[i];
    if (static_cast<unsigned char>(c) >= 0x80)
      return false;
    // WS: [ \t\r\n\f]+ -> skip
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f') {
      size_t j = i + 1;
      while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r' || s[j] == '\n' || s[j] == '\f'))
        ++j;
      advance(j);
      continue;
    }
    // IDENT: [A-Za-z_] [A-Za-z0-9_-]*, or a keyword of exactly that text.
    if (isLetter(c) || c == '_') {
      size_t j = i + 1;
      while (j < n && (isLetter(s[j]) || isDigit(s[j]) || s[j] == '_' || s[j] == '-'))
        ++j;
      emit(lit.wordType(s.slice(i, j)), j);
      continue;
    }
    // PERCENT, TIME, FLOAT, DURATION, INT: each must take the whole run of
    // leading digits; the longest wins (no two can tie).
    if (isDigit(c)) {
      size_t j = i;
      while (j < n && isDigit(s[j]))
        ++j;
      size_t type = DPLLexer::INT, end = j;
      auto consider = [&](size_t t, size_t e) {
        if (e > end) {
          type = t;
          end = e;
        }
      };
      if (j < n && s[j] == '%')
        consider(DPLLexer::PERCENT, j + 1);
      if (j + 1 < n && s[j] == '.' && isDigit(s[j + 1])) {
        size_t k = j + 1;
        while (k < n && isDigit(s[k]))
          ++k;
        consider(DPLLexer::FLOAT, k);
        if (k < n && s[k] == '%')
          consider(DPLLexer::PERCENT, k + 1);
      }
      if (j - i <= 2 && j + 2 < n && s[j] == ':' && isDigit(s[j + 1]) && isDigit(s[j + 2]))
        consider(DPLLexer::TIME, j + 3);
      if (j < n && isLetter(s[j])) {
        size_t k = j + 1;
        while (k < n && (isLetter(s[k]) || isDigit(s[k])))
          ++k;
        consider(DPLLexer::DURATION, k);
      }
      emit(type, end);
      continue;
    }
    // STRING: '"' (ESC | ~["\\\r\n])* '"', ESC: '\\' . (any character).
    if (c == '"') {
      size_t j = i + 1;
      for (;;) {
        if (j >= n || s[j] == '\r' || s[j] == '\n')
          return false; // unterminated: ANTLR's UNTERMINATED_STRING
        if (s[j] == '"')
          break;
        if (s[j] == '\\') {
          if (j + 1 >= n || static_cast<unsigned char>(s[j + 1]) >= 0x80)
            return false;
          j += 2;
          continue;
        }
        if (static_cast<unsigned char>(s[j]) >= 0x80)
          return false;
        ++j;
      }
      emit(DPLLexer::STRING, j + 1);
      continue;
    }
    if (c == '/') {
      // LINE_COMMENT: '//' ~[\r\n]* -> channel(HIDDEN)
      if (i + 1 < n && s[i + 1] == '/') {
        size_t j = i + 2;
        while (j < n && s[j] != '\r' && s[j] != '\n') {
          if (static_cast<unsigned char>(s[j]) >= 0x80)
            return false;
          ++j;
        }
        emit(DPLLexer::LINE_COMMENT, j, antlr4::Token::HIDDEN_CHANNEL);
        continue;
      }
      // BLOCK_COMMENT: '/*' .*? '*/' -> channel(HIDDEN); unclosed: decline.
      if (i + 1 < n && s[i + 1] == '*') {
        size_t close = s.find("*/", i + 2);
        if (close == llvm::StringRef::npos)
          return false;
        for (size_t k = i + 2; k < close; ++k)
          if (static_cast<unsigned char>(s[k]) >= 0x80)
            return false;
        emit(DPLLexer::BLOCK_COMMENT, close + 2, antlr4::Token::HIDDEN_CHANNEL);
        continue;
      }
      return false; // a lone '/': BAD_ONE
    }
    // Operators, longest first. '&' is left to ANTLR: "&&" competes with a
    // run of bad characters ("&&&" is one BAD_CHAR).
    if (c == '&')
      return false;
    if (i + 1 < n) {
      auto op = lit.two.find(s.substr(i, 2));
      if (op != lit.two.end()) {
        emit(op->second, i + 2);
        continue;
      }
    }
    if (size_t type = lit.one[static_cast<unsigned char>(c)]) {
      emit(type, i + 1);
      continue;
    }
    return false; // '#', '\'', a bad character …
  }
  // EOF as Lexer::emitEOF makes it: empty, at the end.
  pool.emplace_back(source, antlr4::Token::EOF, antlr4::Token::DEFAULT_CHANNEL, n, n - 1, line, column);
  guard.done = true;
  result.tokens.clear();
  result.tokens.reserve(pool.size());
  for (LexedToken &t : pool)
    result.tokens.push_back(&t);
  return true;
}

LexerAgreement compareLexers(llvm::StringRef text, std::string *difference) {
  for (char c : text)
    if (static_cast<unsigned char>(c) >= 0x80)
      return LexerAgreement::Declined; // as fastLex would (and ANTLR's UTF-8 decoding may throw)
  antlr4::ANTLRInputStream input(text.str());
  DPLLexer lexer(&input);
  lexer.removeErrorListeners();
  LexedTokens lexed;
  if (!fastLex(text, lexer, input, lexed))
    return LexerAgreement::Declined;
  const std::vector<antlr4::Token *> &fast = lexed.tokens;
  std::vector<std::unique_ptr<antlr4::Token>> slow;
  for (;;) {
    slow.push_back(lexer.nextToken());
    if (slow.back()->getType() == antlr4::Token::EOF)
      break;
  }
  auto describe = [](const antlr4::Token &t) {
    return "type " + std::to_string(t.getType()) + " channel " + std::to_string(t.getChannel()) + " [" +
           std::to_string(t.getStartIndex()) + ", " + std::to_string(t.getStopIndex()) + "] at " +
           std::to_string(t.getLine()) + ":" + std::to_string(t.getCharPositionInLine());
  };
  for (size_t k = 0; k < std::max(fast.size(), slow.size()); ++k) {
    const antlr4::Token *a = k < fast.size() ? fast[k] : nullptr;
    const antlr4::Token *b = k < slow.size() ? slow[k].get() : nullptr;
    if (a && b && a->getType() == b->getType() && a->getChannel() == b->getChannel() &&
        a->getStartIndex() == b->getStartIndex() && a->getStopIndex() == b->getStopIndex() &&
        a->getLine() == b->getLine() && a->getCharPositionInLine() == b->getCharPositionInLine())
      continue;
    if (difference)
      *difference = "token " + std::to_string(k) + ": fast " + (a ? describe(*a) : "(none)") + ", ANTLR " +
                    (b ? describe(*b) : "(none)");
    return LexerAgreement::Different;
  }
  return LexerAgreement::Same;
}

} // namespace dpl
