#include "frontend/Parser.h"

#include <cstdlib>

using namespace bnnc;

namespace {
/// Counts expression nesting for the lifetime of one parse function.
class NestingGuard {
public:
  explicit NestingGuard(unsigned &depth) : depth(depth) { ++depth; }
  ~NestingGuard() { --depth; }

private:
  unsigned &depth;
};
} // namespace

//===----------------------------------------------------------------------===//
// Token stream
//===----------------------------------------------------------------------===//

const Token &Parser::peek(unsigned ahead) {
  while (lookahead.size() <= ahead)
    lookahead.push_back(lexer.next());
  return lookahead[ahead];
}

Token Parser::consume() {
  Token token = peek();
  if (!token.is(TokenKind::EndOfFile))
    lookahead.pop_front();
  return token;
}

bool Parser::consumeIf(TokenKind kind) {
  if (!peek().is(kind))
    return false;
  consume();
  return true;
}

void Parser::reportExpected(llvm::StringRef what) {
  const Token &found = peek();
  if (found.is(TokenKind::Error))
    return; // the lexer has said what is wrong with it
  auto diag = diagnostics.error(found.loc());
  diag << "expected " << what << ", found ";
  if (found.is(TokenKind::EndOfFile))
    diag << "end of file";
  else
    diag << "'" << found.text << "'";
}

bool Parser::expect(TokenKind kind, llvm::StringRef what) {
  if (consumeIf(kind))
    return true;
  reportExpected(what);
  return false;
}

//===----------------------------------------------------------------------===//
// Declarations
//===----------------------------------------------------------------------===//

std::vector<DeclPtr> Parser::parseFile() {
  std::vector<DeclPtr> decls;
  while (!peek().is(TokenKind::EndOfFile)) {
    if (DeclPtr decl = parseDecl())
      decls.push_back(std::move(decl));
    else
      skipToNextDecl();
  }
  return decls;
}

DeclPtr Parser::parseDecl() {
  switch (peek().kind) {
  case TokenKind::KwImport: return parseImport();
  case TokenKind::KwParam: return parseParam();
  case TokenKind::KwBlock: return parseBlock();
  case TokenKind::KwModel: return parseModel();
  default:
    reportExpected("'import', 'param', 'block' or 'model'");
    return nullptr;
  }
}

DeclPtr Parser::parseImport() {
  llvm::SMLoc loc = consume().loc();
  Token path = peek();
  if (!expect(TokenKind::String, "a quoted path after 'import'"))
    return nullptr;
  consumeIf(TokenKind::Semicolon);
  return std::make_unique<ImportDecl>(loc, path.text.drop_front().drop_back());
}

DeclPtr Parser::parseParam() {
  llvm::SMLoc loc = consume().loc();
  Token name = peek();
  if (!expect(TokenKind::Identifier, "a parameter name after 'param'") ||
      !expect(TokenKind::Colon, "':' and a type (int or f32)"))
    return nullptr;
  std::optional<TypeSpec> type = parseType();
  if (!type)
    return nullptr;
  if (type->kind == TypeSpec::Kind::Tensor) {
    diagnostics.error(type->loc)
        << "a param is a scalar; expected type 'int' or 'f32'";
    return nullptr;
  }
  if (!expect(TokenKind::Equal, "'=' and a default value"))
    return nullptr;
  ExprPtr value = parseExpr();
  if (!value)
    return nullptr;
  consumeIf(TokenKind::Semicolon);
  return std::make_unique<ParamDecl>(loc, name.text, std::move(*type),
                                     std::move(value));
}

std::optional<TypeSpec> Parser::parseType() {
  TypeSpec type;
  type.loc = peek().loc();
  Token name = peek();
  if (!name.is(TokenKind::Identifier) ||
      (name.text != "int" && name.text != "f32")) {
    reportExpected("a type ('int', 'f32' or 'f32[dims]')");
    return std::nullopt;
  }
  consume();
  type.kind = name.text == "int" ? TypeSpec::Kind::Int : TypeSpec::Kind::F32;
  if (!consumeIf(TokenKind::LBracket))
    return type;
  if (type.kind != TypeSpec::Kind::F32) {
    diagnostics.error(name.loc()) << "tensors hold f32; write f32[...]";
    return std::nullopt;
  }
  type.kind = TypeSpec::Kind::Tensor;
  do {
    Token dim = peek();
    if (!expect(TokenKind::Integer, "a positive integer extent"))
      return std::nullopt;
    int64_t extent;
    if (dim.text.getAsInteger(10, extent) || extent < 1 ||
        extent > (int64_t(1) << 31) - 1) {
      diagnostics.error(dim.loc())
          << "extent " << dim.text << " is out of range [1, 2147483647]";
      return std::nullopt;
    }
    type.dims.push_back(extent);
  } while (consumeIf(TokenKind::Comma));
  if (!expect(TokenKind::RBracket, "',' or ']' in the tensor type"))
    return std::nullopt;
  return type;
}

DeclPtr Parser::parseBlock() {
  llvm::SMLoc loc = consume().loc();
  Token name = peek();
  if (!expect(TokenKind::Identifier, "a block name after 'block'") ||
      !expect(TokenKind::LParen, "'(' and the block's parameters"))
    return nullptr;
  std::vector<BlockParam> params;
  if (!peek().is(TokenKind::RParen)) {
    do {
      BlockParam param;
      Token paramName = peek();
      if (!expect(TokenKind::Identifier, "a parameter name"))
        return nullptr;
      param.name = paramName.text.str();
      param.loc = paramName.loc();
      if (consumeIf(TokenKind::Colon)) {
        param.type = parseType();
        if (!param.type)
          return nullptr;
      }
      if (consumeIf(TokenKind::Equal)) {
        param.defaultValue = parseExpr();
        if (!param.defaultValue)
          return nullptr;
      }
      params.push_back(std::move(param));
    } while (consumeIf(TokenKind::Comma));
  }
  if (!expect(TokenKind::RParen, "',' or ')' after a block parameter"))
    return nullptr;
  std::optional<Body> body = parseBody();
  if (!body)
    return nullptr;
  return std::make_unique<BlockDecl>(loc, name.text, std::move(params),
                                     std::move(*body));
}

DeclPtr Parser::parseModel() {
  llvm::SMLoc loc = consume().loc();
  Token name = peek();
  if (!expect(TokenKind::Identifier, "a model name after 'model'") ||
      !expect(TokenKind::LParen, "'(' and the model's input"))
    return nullptr;
  Token input = peek();
  if (!expect(TokenKind::Identifier, "the input's name") ||
      !expect(TokenKind::Colon, "':' and the input type, e.g. f32[1, 28, 28]"))
    return nullptr;
  std::optional<TypeSpec> type = parseType();
  if (!type)
    return nullptr;
  if (type->kind != TypeSpec::Kind::Tensor) {
    diagnostics.error(type->loc)
        << "a model's input is a tensor; expected a type like f32[1, 28, 28] "
           "(the batch axis is implicit)";
    return nullptr;
  }
  if (!expect(TokenKind::RParen, "')' after the model's input"))
    return nullptr;
  std::optional<Body> body = parseBody();
  if (!body)
    return nullptr;
  return std::make_unique<ModelDecl>(loc, name.text, input.text,
                                     std::move(*type), std::move(*body));
}

std::optional<Body> Parser::parseBody() {
  if (!expect(TokenKind::LBrace, "'{' to open the body"))
    return std::nullopt;
  Body body;
  while (!peek().is(TokenKind::RBrace)) {
    TokenKind next = peek().kind;
    if (next == TokenKind::EndOfFile || next == TokenKind::KwBlock ||
        next == TokenKind::KwModel || next == TokenKind::KwParam ||
        next == TokenKind::KwImport) {
      reportExpected("'}' to close the body");
      return body; // keep what parsed; the next declaration starts here
    }
    if (StmtPtr stmt = parseStatement())
      body.push_back(std::move(stmt));
    else
      skipToNextStatement();
  }
  consume();
  return body;
}

//===----------------------------------------------------------------------===//
// Statements
//===----------------------------------------------------------------------===//

StmtPtr Parser::parseStatement() {
  Token first = peek();
  StmtPtr stmt;
  if (consumeIf(TokenKind::KwReturn)) {
    if (ExprPtr value = parseExpr())
      stmt = std::make_unique<ReturnStmt>(first.loc(), std::move(value));
  } else if (consumeIf(TokenKind::KwLoss)) {
    Token loss = peek();
    if (expect(TokenKind::Identifier,
               "a loss name (cross_entropy or squared_hinge)"))
      stmt = std::make_unique<LossStmt>(first.loc(), loss.text, loss.loc());
  } else if (first.is(TokenKind::Identifier) &&
             peek(1).is(TokenKind::Equal)) {
    consume();
    consume();
    if (ExprPtr value = parseExpr())
      stmt = std::make_unique<AssignStmt>(first.loc(), first.text,
                                          std::move(value));
  } else {
    reportExpected("a statement ('name = ...', 'return ...' or 'loss ...')");
  }
  if (stmt)
    consumeIf(TokenKind::Semicolon);
  return stmt;
}

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

/// expr := additive ('|>' name ('(' args ')')?)*
ExprPtr Parser::parseExpr() {
  NestingGuard guard(nesting);
  if (nesting > kMaxNesting) {
    diagnostics.error(peek().loc())
        << "expression nested more than " << kMaxNesting << " levels deep";
    return nullptr;
  }
  ExprPtr lhs = parseAdditive();
  while (lhs && peek().is(TokenKind::Pipe)) {
    llvm::SMLoc pipeLoc = consume().loc();
    Token callee = peek();
    if (!expect(TokenKind::Identifier, "a layer or block name after '|>'"))
      return nullptr;
    std::vector<Argument> arguments;
    arguments.push_back({Argument::Kind::Positional, "", pipeLoc,
                         std::move(lhs)});
    if (peek().is(TokenKind::LParen)) {
      std::optional<std::vector<Argument>> rest = parseArguments();
      if (!rest)
        return nullptr;
      for (Argument &argument : *rest)
        arguments.push_back(std::move(argument));
    }
    lhs = std::make_unique<CallExpr>(callee.loc(), callee.text,
                                     std::move(arguments), /*viaPipe=*/true);
    const Token &next = peek();
    if (next.is(TokenKind::Plus) || next.is(TokenKind::Minus) ||
        next.is(TokenKind::Star) || next.is(TokenKind::Slash)) {
      // `x |> f + y` would read as `x |> (f + y)`: '|>' binds loosest.
      diagnostics.error(next.loc())
          << "'" << next.text << "' cannot follow a `|>` chain; put the "
          << "chain in parentheses: `(x |> f) " << next.text << " y`";
      return nullptr;
    }
  }
  return lhs;
}

ExprPtr Parser::parseAdditive() {
  ExprPtr lhs = parseMultiplicative();
  while (lhs && (peek().is(TokenKind::Plus) || peek().is(TokenKind::Minus))) {
    Token op = consume();
    ExprPtr rhs = parseMultiplicative();
    if (!rhs)
      return nullptr;
    lhs = std::make_unique<BinaryExpr>(op.loc(), op.text[0], std::move(lhs),
                                       std::move(rhs));
  }
  return lhs;
}

ExprPtr Parser::parseMultiplicative() {
  ExprPtr lhs = parseUnary();
  while (lhs && (peek().is(TokenKind::Star) || peek().is(TokenKind::Slash))) {
    Token op = consume();
    ExprPtr rhs = parseUnary();
    if (!rhs)
      return nullptr;
    lhs = std::make_unique<BinaryExpr>(op.loc(), op.text[0], std::move(lhs),
                                       std::move(rhs));
  }
  return lhs;
}

ExprPtr Parser::parseUnary() {
  NestingGuard guard(nesting);
  if (nesting > kMaxNesting) {
    diagnostics.error(peek().loc())
        << "expression nested more than " << kMaxNesting << " levels deep";
    return nullptr;
  }
  if (!peek().is(TokenKind::Minus))
    return parsePrimary();
  llvm::SMLoc loc = consume().loc();
  ExprPtr operand = parseUnary();
  if (!operand)
    return nullptr;
  return std::make_unique<NegateExpr>(loc, std::move(operand));
}

ExprPtr Parser::parsePrimary() {
  Token token = peek();
  switch (token.kind) {
  case TokenKind::Integer: {
    consume();
    int64_t value;
    if (token.text.getAsInteger(10, value) || value > (int64_t(1) << 53)) {
      diagnostics.error(token.loc())
          << "integer " << token.text << " is too large";
      return nullptr;
    }
    return std::make_unique<NumberExpr>(token.loc(), double(value), true);
  }
  case TokenKind::Float: {
    consume();
    double value = std::strtod(token.text.str().c_str(), nullptr);
    return std::make_unique<NumberExpr>(token.loc(), value, false);
  }
  case TokenKind::Identifier: {
    consume();
    if (!peek().is(TokenKind::LParen))
      return std::make_unique<NameExpr>(token.loc(), token.text);
    std::optional<std::vector<Argument>> arguments = parseArguments();
    if (!arguments)
      return nullptr;
    return std::make_unique<CallExpr>(token.loc(), token.text,
                                      std::move(*arguments), false);
  }
  case TokenKind::LParen: {
    consume();
    ExprPtr inner = parseExpr();
    if (!inner || !expect(TokenKind::RParen, "')'"))
      return nullptr;
    return inner;
  }
  default:
    reportExpected("an expression");
    return nullptr;
  }
}

std::optional<std::vector<Argument>> Parser::parseArguments() {
  consume(); // '('
  std::vector<Argument> arguments;
  while (!peek().is(TokenKind::RParen)) {
    std::optional<Argument> argument = parseArgument();
    if (!argument)
      return std::nullopt;
    arguments.push_back(std::move(*argument));
    if (!consumeIf(TokenKind::Comma))
      break;
  }
  if (!expect(TokenKind::RParen, "',' or ')' in the argument list"))
    return std::nullopt;
  return arguments;
}

/// argument := expr | name '=' expr | name '~' expr
std::optional<Argument> Parser::parseArgument() {
  Argument argument;
  const Token &first = peek();
  TokenKind second = peek(1).kind;
  if (first.is(TokenKind::Identifier) &&
      (second == TokenKind::Equal || second == TokenKind::Tilde)) {
    argument.kind = second == TokenKind::Equal ? Argument::Kind::Keyword
                                               : Argument::Kind::Init;
    argument.name = first.text.str();
    argument.nameLoc = first.loc();
    consume();
    consume();
  } else {
    argument.nameLoc = first.loc();
  }
  argument.value = parseExpr();
  if (!argument.value)
    return std::nullopt;
  return argument;
}

//===----------------------------------------------------------------------===//
// Error recovery
//===----------------------------------------------------------------------===//

void Parser::skipToNextDecl() {
  // Always make progress, then stop at the next top-level keyword.
  consume();
  while (true) {
    TokenKind kind = peek().kind;
    if (kind == TokenKind::EndOfFile || kind == TokenKind::KwImport ||
        kind == TokenKind::KwParam || kind == TokenKind::KwBlock ||
        kind == TokenKind::KwModel)
      return;
    consume();
  }
}

void Parser::skipToNextStatement() {
  int depth = 0; // parentheses and brackets, so `weights = binary` is skipped
  while (true) {
    const Token &token = peek();
    switch (token.kind) {
    case TokenKind::EndOfFile:
    case TokenKind::KwImport:
    case TokenKind::KwParam:
    case TokenKind::KwBlock:
    case TokenKind::KwModel:
      return;
    case TokenKind::RBrace:
      if (depth <= 0)
        return;
      break;
    case TokenKind::KwReturn:
    case TokenKind::KwLoss:
      if (depth <= 0)
        return;
      break;
    case TokenKind::Identifier:
      if (depth <= 0 && peek(1).is(TokenKind::Equal))
        return;
      break;
    case TokenKind::LParen:
    case TokenKind::LBracket:
      ++depth;
      break;
    case TokenKind::RParen:
    case TokenKind::RBracket:
      --depth;
      break;
    case TokenKind::Semicolon:
      if (depth <= 0) {
        consume();
        return;
      }
      break;
    default:
      break;
    }
    consume();
  }
}
