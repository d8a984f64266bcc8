#include "FrontendFixture.h"
#include "frontend/Lexer.h"

using namespace bnnc;

namespace {

class LexerTest : public unittest::FrontendFixture {
protected:
  std::vector<Token> lex(llvm::StringRef text) {
    Lexer lexer(addSource(text), sink);
    std::vector<Token> tokens;
    for (Token token = lexer.next(); !token.is(TokenKind::EndOfFile);
         token = lexer.next())
      tokens.push_back(token);
    return tokens;
  }
  std::vector<TokenKind> kinds(llvm::StringRef text) {
    std::vector<TokenKind> result;
    for (const Token &token : lex(text))
      result.push_back(token.kind);
    return result;
  }
};

TEST_F(LexerTest, KeywordsIdentifiersAndPunctuation) {
  using K = TokenKind;
  EXPECT_EQ(kinds("param lambda: f32 = 2.0"),
            (std::vector<K>{K::KwParam, K::Identifier, K::Colon,
                            K::Identifier, K::Equal, K::Float}));
  EXPECT_EQ(kinds("x |> dense(n, w ~ u) { } [ ] ; + - * /"),
            (std::vector<K>{K::Identifier, K::Pipe, K::Identifier, K::LParen,
                            K::Identifier, K::Comma, K::Identifier, K::Tilde,
                            K::Identifier, K::RParen, K::LBrace, K::RBrace,
                            K::LBracket, K::RBracket, K::Semicolon, K::Plus,
                            K::Minus, K::Star, K::Slash}));
  EXPECT_EQ(kinds("import block model return loss modelx _a1"),
            (std::vector<K>{K::KwImport, K::KwBlock, K::KwModel, K::KwReturn,
                            K::KwLoss, K::Identifier, K::Identifier}));
  EXPECT_TRUE(messages.empty());
}

TEST_F(LexerTest, Numbers) {
  std::vector<Token> tokens = lex("12 0.5 .5 1e-3 2.5E+2 7");
  ASSERT_EQ(tokens.size(), 6u);
  EXPECT_EQ(tokens[0].kind, TokenKind::Integer);
  for (int i = 1; i <= 4; ++i)
    EXPECT_EQ(tokens[i].kind, TokenKind::Float) << tokens[i].text.str();
  EXPECT_EQ(tokens[4].text, "2.5E+2");
  EXPECT_EQ(tokens[5].kind, TokenKind::Integer);
  // An exponent marker without digits is not part of the number.
  EXPECT_EQ(kinds("1e"), std::vector<TokenKind>{TokenKind::Error});
}

TEST_F(LexerTest, CommentsAndStrings) {
  std::vector<Token> tokens =
      lex("# comment |> (\n// another\nimport \"std/a.bnn\" # trailing");
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_EQ(tokens[1].kind, TokenKind::String);
  EXPECT_EQ(tokens[1].text, "\"std/a.bnn\"");
}

TEST_F(LexerTest, ErrorsAreReportedWithPositions) {
  std::vector<Token> tokens = lex("a $ b\n  3x | c");
  std::vector<TokenKind> expected{TokenKind::Identifier, TokenKind::Error,
                                  TokenKind::Identifier, TokenKind::Error,
                                  TokenKind::Error, TokenKind::Identifier};
  ASSERT_EQ(tokens.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_EQ(tokens[i].kind, expected[i]) << i;
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[0], "1:3: unexpected character '$'");
  EXPECT_EQ(messages[1], "2:3: invalid number '3x'");
  EXPECT_EQ(messages[2], "2:6: unexpected '|'; the pipe operator is '|>'");
}

TEST_F(LexerTest, BinaryInputStopsAtTheErrorLimit) {
  std::string garbage(100000, '\x01');
  std::vector<Token> tokens = lex(garbage);
  EXPECT_EQ(tokens.size(), DiagnosticSink::kErrorLimit);
  EXPECT_EQ(messages.size(), DiagnosticSink::kErrorLimit);
  EXPECT_EQ(messages.front(), "1:1: unexpected byte 0x01; is this a model file?");
}

TEST_F(LexerTest, UnterminatedString) {
  EXPECT_EQ(kinds("import \"abc\nmodel"),
            (std::vector<TokenKind>{TokenKind::KwImport, TokenKind::Error,
                                    TokenKind::KwModel}));
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_NE(messages[0].find("unterminated string"), std::string::npos);
}

} // namespace
