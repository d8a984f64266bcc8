#include "bnnrt/FiniteCheck.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

using namespace bnnrt;

namespace {

/// The recorder is process-wide: every test starts from a reset one.
class FiniteCheckTest : public ::testing::Test {
protected:
  void SetUp() override { resetNonFinite(); }
  void TearDown() override { resetNonFinite(); }
};

TEST_F(FiniteCheckTest, FiniteDataRecordsNothing) {
  std::vector<float> values = {0.0f, -1.5f, std::numeric_limits<float>::max(),
                               std::numeric_limits<float>::lowest(),
                               std::numeric_limits<float>::denorm_min()};
  noteNonFinite(0, values.data(), int64_t(values.size()));
  noteNonFinite(1, values.data(), 0);
  EXPECT_EQ(firstNonFiniteSite(), -1);
}

TEST_F(FiniteCheckTest, NaNAndInfinityAnywhereAreRecorded) {
  for (float bad : {std::nanf(""), INFINITY, -INFINITY}) {
    for (size_t at : {size_t(0), size_t(4), size_t(9)}) {
      resetNonFinite();
      std::vector<float> values(10, 1.0f);
      values[at] = bad;
      noteNonFinite(7, values.data(), int64_t(values.size()));
      EXPECT_EQ(firstNonFiniteSite(), 7) << bad << " at " << at;
    }
  }
}

TEST_F(FiniteCheckTest, OnlyTheCountedValuesAreScanned) {
  std::vector<float> values = {1.0f, 2.0f, std::nanf("")};
  noteNonFinite(3, values.data(), 2);
  EXPECT_EQ(firstNonFiniteSite(), -1);
}

TEST_F(FiniteCheckTest, TheFirstSiteWins) {
  std::vector<float> finite(4, 1.0f), bad = {1.0f, INFINITY};
  noteNonFinite(2, finite.data(), 4);
  noteNonFinite(5, bad.data(), 2);
  noteNonFinite(3, bad.data(), 2); // inherits site 5's values: not the cause
  noteNonFinite(1, bad.data(), 2);
  EXPECT_EQ(firstNonFiniteSite(), 5);
}

TEST_F(FiniteCheckTest, ResetClears) {
  std::vector<float> bad = {std::nanf("")};
  noteNonFinite(4, bad.data(), 1);
  ASSERT_EQ(firstNonFiniteSite(), 4);
  resetNonFinite();
  EXPECT_EQ(firstNonFiniteSite(), -1);
  noteNonFinite(6, bad.data(), 1);
  EXPECT_EQ(firstNonFiniteSite(), 6);
}

} // namespace
