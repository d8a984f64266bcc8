#include "frontend/Lexer.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/raw_ostream.h"

#include <cctype>
#include <cstdio>

using namespace bnnc;

llvm::StringRef bnnc::describe(TokenKind kind) {
  switch (kind) {
  case TokenKind::EndOfFile: return "end of file";
  case TokenKind::Error: return "invalid token";
  case TokenKind::Identifier: return "identifier";
  case TokenKind::Integer: return "integer";
  case TokenKind::Float: return "number";
  case TokenKind::String: return "string";
  case TokenKind::KwImport: return "'import'";
  case TokenKind::KwParam: return "'param'";
  case TokenKind::KwBlock: return "'block'";
  case TokenKind::KwModel: return "'model'";
  case TokenKind::KwReturn: return "'return'";
  case TokenKind::KwLoss: return "'loss'";
  case TokenKind::LParen: return "'('";
  case TokenKind::RParen: return "')'";
  case TokenKind::LBrace: return "'{'";
  case TokenKind::RBrace: return "'}'";
  case TokenKind::LBracket: return "'['";
  case TokenKind::RBracket: return "']'";
  case TokenKind::Comma: return "','";
  case TokenKind::Colon: return "':'";
  case TokenKind::Semicolon: return "';'";
  case TokenKind::Equal: return "'='";
  case TokenKind::Tilde: return "'~'";
  case TokenKind::Pipe: return "'|>'";
  case TokenKind::Plus: return "'+'";
  case TokenKind::Minus: return "'-'";
  case TokenKind::Star: return "'*'";
  case TokenKind::Slash: return "'/'";
  }
  return "token";
}

static bool isIdentifierStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
static bool isIdentifierBody(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}
static bool isDigit(char c) { return c >= '0' && c <= '9'; }

void Lexer::skipWhitespaceAndComments() {
  const char *end = buffer.end();
  while (cursor != end) {
    char c = *cursor;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++cursor;
    } else if (c == '#' || (c == '/' && cursor + 1 != end && cursor[1] == '/')) {
      while (cursor != end && *cursor != '\n')
        ++cursor;
    } else {
      return;
    }
  }
}

Token Lexer::next() {
  skipWhitespaceAndComments();
  const char *start = cursor;
  if (cursor == buffer.end() || diagnostics.atErrorLimit())
    return {TokenKind::EndOfFile, llvm::StringRef(buffer.end(), 0)};
  char c = *cursor++;
  if (isIdentifierStart(c))
    return lexIdentifier(start);
  if (isDigit(c) || (c == '.' && cursor != buffer.end() && isDigit(*cursor)))
    return lexNumber(start);
  switch (c) {
  case '"': return lexString(start);
  case '(': return make(TokenKind::LParen, start);
  case ')': return make(TokenKind::RParen, start);
  case '{': return make(TokenKind::LBrace, start);
  case '}': return make(TokenKind::RBrace, start);
  case '[': return make(TokenKind::LBracket, start);
  case ']': return make(TokenKind::RBracket, start);
  case ',': return make(TokenKind::Comma, start);
  case ':': return make(TokenKind::Colon, start);
  case ';': return make(TokenKind::Semicolon, start);
  case '=': return make(TokenKind::Equal, start);
  case '~': return make(TokenKind::Tilde, start);
  case '+': return make(TokenKind::Plus, start);
  case '-': return make(TokenKind::Minus, start);
  case '*': return make(TokenKind::Star, start);
  case '/': return make(TokenKind::Slash, start);
  case '|':
    if (cursor != buffer.end() && *cursor == '>') {
      ++cursor;
      return make(TokenKind::Pipe, start);
    }
    diagnostics.error(llvm::SMLoc::getFromPointer(start))
        << "unexpected '|'; the pipe operator is '|>'";
    return make(TokenKind::Error, start);
  default:
    break;
  }
  // The diagnostic keeps a pointer to `hex` until it is reported, when
  // `diag` goes out of scope: `hex` must live as long.
  char hex[8];
  auto diag = diagnostics.error(llvm::SMLoc::getFromPointer(start));
  if (std::isprint(static_cast<unsigned char>(c)))
    diag << "unexpected character '" << c << "'";
  else {
    std::snprintf(hex, sizeof(hex), "0x%02x", static_cast<unsigned char>(c));
    diag << "unexpected byte " << hex << "; is this a model file?";
  }
  return make(TokenKind::Error, start);
}

Token Lexer::lexIdentifier(const char *start) {
  while (cursor != buffer.end() && isIdentifierBody(*cursor))
    ++cursor;
  llvm::StringRef text(start, cursor - start);
  TokenKind kind = llvm::StringSwitch<TokenKind>(text)
                       .Case("import", TokenKind::KwImport)
                       .Case("param", TokenKind::KwParam)
                       .Case("block", TokenKind::KwBlock)
                       .Case("model", TokenKind::KwModel)
                       .Case("return", TokenKind::KwReturn)
                       .Case("loss", TokenKind::KwLoss)
                       .Default(TokenKind::Identifier);
  return make(kind, start);
}

/// 12, 0.5, .5, 1e-3, 2.5E+2. A number followed by letters ("3x") is one
/// bad token, not a number and a name.
Token Lexer::lexNumber(const char *start) {
  const char *end = buffer.end();
  bool isFloat = *start == '.';
  while (cursor != end && isDigit(*cursor))
    ++cursor;
  if (!isFloat && cursor != end && *cursor == '.') {
    isFloat = true;
    ++cursor;
  }
  while (cursor != end && isDigit(*cursor))
    ++cursor;
  if (cursor != end && (*cursor == 'e' || *cursor == 'E')) {
    const char *exponent = cursor + 1;
    if (exponent != end && (*exponent == '+' || *exponent == '-'))
      ++exponent;
    if (exponent != end && isDigit(*exponent)) {
      isFloat = true;
      cursor = exponent;
      while (cursor != end && isDigit(*cursor))
        ++cursor;
    }
  }
  if (cursor != end && isIdentifierBody(*cursor)) {
    while (cursor != end && isIdentifierBody(*cursor))
      ++cursor;
    diagnostics.error(llvm::SMLoc::getFromPointer(start))
        << "invalid number '" << llvm::StringRef(start, cursor - start)
        << "'";
    return make(TokenKind::Error, start);
  }
  return make(isFloat ? TokenKind::Float : TokenKind::Integer, start);
}

Token Lexer::lexString(const char *start) {
  while (cursor != buffer.end() && *cursor != '"' && *cursor != '\n')
    ++cursor;
  if (cursor == buffer.end() || *cursor != '"') {
    diagnostics.error(llvm::SMLoc::getFromPointer(start))
        << "unterminated string; expected '\"' before the end of the line";
    return make(TokenKind::Error, start);
  }
  ++cursor;
  return make(TokenKind::String, start);
}
