#include "bnnrt/Dataset.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <algorithm>
#include <fstream>
#include <unistd.h>

using namespace bnnrt;

namespace {

class DatasetTest : public ::testing::Test {
protected:
  DatasetTest() {
    char pattern[] = "/tmp/bnnrt-dataset-XXXXXX";
    dir = mkdtemp(pattern);
  }
  ~DatasetTest() override {
    for (const std::string &file : files)
      std::remove(file.c_str());
    rmdir(dir.c_str());
  }

  std::string write(const std::string &name, const std::vector<uint8_t> &bytes,
                    bool gzip = false) {
    std::string path = dir + "/" + name;
    files.push_back(path);
    if (gzip) {
      gzFile file = gzopen(path.c_str(), "wb");
      gzwrite(file, bytes.data(), unsigned(bytes.size()));
      gzclose(file);
    } else {
      std::ofstream(path, std::ios::binary)
          .write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
    }
    return path;
  }

  /// An IDX file of unsigned bytes.
  static std::vector<uint8_t> idx(std::vector<uint32_t> dims,
                                  const std::vector<uint8_t> &data) {
    std::vector<uint8_t> bytes{0, 0, 0x08, uint8_t(dims.size())};
    for (uint32_t d : dims)
      for (int shift = 24; shift >= 0; shift -= 8)
        bytes.push_back(uint8_t(d >> shift));
    bytes.insert(bytes.end(), data.begin(), data.end());
    return bytes;
  }

  std::string dir;
  std::vector<std::string> files;
};

TEST_F(DatasetTest, IdxRawAndGzipped) {
  std::vector<uint8_t> pixels(3 * 2 * 2);
  for (size_t i = 0; i < pixels.size(); ++i)
    pixels[i] = uint8_t(i * 23);
  for (bool gzip : {false, true}) {
    std::string images = write(gzip ? "i.gz" : "i", idx({3, 2, 2}, pixels), gzip);
    std::string labels = write(gzip ? "l.gz" : "l", idx({3}, {4, 0, 7}), gzip);
    Dataset data;
    std::string error;
    ASSERT_TRUE(loadDataset("idx:" + images + "," + labels, data, error)) << error;
    EXPECT_EQ(data.count, 3);
    EXPECT_EQ(data.channels, 1);
    EXPECT_EQ(data.height, 2);
    EXPECT_EQ(data.width, 2);
    EXPECT_EQ(data.labels, (std::vector<int32_t>{4, 0, 7}));
    EXPECT_EQ(data.numClasses, 8);
    EXPECT_FLOAT_EQ(data.images[0], -1.0f);             // 0 -> -1
    EXPECT_FLOAT_EQ(data.images[1], 23 / 127.5f - 1.0f);  // scaled to [-1, 1]
    EXPECT_FLOAT_EQ(data.image(2)[3], 253 / 127.5f - 1.0f);
  }
}

TEST_F(DatasetTest, CorruptIdxFilesNameFileAndOffset) {
  std::string labels = write("l", idx({2}, {1, 2}));
  Dataset data;
  std::string error;

  std::string truncated = write("trunc", idx({2, 2, 2}, {1, 2, 3, 4, 5}));
  EXPECT_FALSE(loadIdx(truncated, labels, data, error));
  EXPECT_EQ(error, truncated + ": error: at offset 21: file ends in the pixel "
                               "data: expected 8 bytes, got 5");

  std::string badMagic = write("magic", {1, 2, 3, 4, 5, 6});
  EXPECT_FALSE(loadIdx(badMagic, labels, data, error));
  EXPECT_EQ(error, badMagic + ": error: at offset 0: not an IDX file (magic "
                              "bytes are not 0 0)");

  std::string rank = write("rank", idx({2, 4}, std::vector<uint8_t>(8)));
  EXPECT_FALSE(loadIdx(rank, labels, data, error));
  EXPECT_NE(error.find("at offset 3: expected 3 dimensions"), std::string::npos);

  std::string images = write("images", idx({3, 1, 1}, {1, 2, 3}));
  EXPECT_FALSE(loadIdx(images, labels, data, error));
  EXPECT_EQ(error, labels + ": error: 2 labels for 3 images in " + images);

  std::string trailing = write("trailing", idx({2, 1, 1}, {1, 2, 99}));
  EXPECT_FALSE(loadIdx(trailing, labels, data, error));
  EXPECT_EQ(error, trailing + ": error: at offset 18: unexpected data after "
                              "the last record");

  std::vector<uint8_t> gz;
  {
    std::string path = write("good.gz", idx({2, 1, 1}, {1, 2}), true);
    std::ifstream in(path, std::ios::binary);
    gz.assign(std::istreambuf_iterator<char>(in), {});
  }
  gz.resize(gz.size() - 12); // cut the deflate stream and its trailer
  std::string cut = write("cut.gz", gz);
  EXPECT_FALSE(loadIdx(cut, labels, data, error));
  EXPECT_NE(error.find(cut + ": error: at offset"), std::string::npos) << error;

  EXPECT_FALSE(loadIdx(dir + "/missing", labels, data, error));
  EXPECT_EQ(error, dir + "/missing: error: cannot open the file");
}

// Found by fuzz_idx: a 34-byte file whose header promised 2^31 bytes of
// pixels was allocated (and zeroed) in full before the read failed.
TEST_F(DatasetTest, HeaderPromisingMoreThanTheFileHolds) {
  std::string labels = write("l", idx({1u << 20}, {1, 2}));
  std::string images = write("i", idx({1u << 20, 64, 64}, {1, 2, 3}));
  Dataset data;
  std::string error;
  EXPECT_FALSE(loadIdx(images, labels, data, error));
  EXPECT_EQ(error, images + ": error: at offset 19: file ends in the pixel "
                            "data: expected 4294967296 bytes, got 3");
  // Dimensions of up to 2^28 each: their product would overflow.
  std::string huge = write("huge", idx({1u << 28, 1u << 28, 1u << 28}, {}));
  std::string hugeLabels = write("hl", idx({1u << 28}, {}));
  EXPECT_FALSE(loadIdx(huge, hugeLabels, data, error));
  EXPECT_EQ(error, huge + ": error: at offset 4: the header promises "
                          "268435456 images of 268435456x268435456 pixels, "
                          "more than 64 GiB; not a data set this loader reads");
}

TEST_F(DatasetTest, Cifar10Batches) {
  std::vector<uint8_t> batch;
  for (uint8_t label : {3, 9}) {
    batch.push_back(label);
    for (int i = 0; i < 3072; ++i)
      batch.push_back(uint8_t(i % 256));
  }
  std::string first = write("data_batch_1.bin", batch);
  std::string second = write("data_batch_2.bin", batch);
  Dataset data;
  std::string error;
  ASSERT_TRUE(loadDataset("cifar10:" + first + "," + second, data, error)) << error;
  EXPECT_EQ(data.count, 4);
  EXPECT_EQ(data.channels, 3);
  EXPECT_EQ(data.height, 32);
  EXPECT_EQ(data.labels, (std::vector<int32_t>{3, 9, 3, 9}));
  EXPECT_FLOAT_EQ(data.image(1)[255], 1.0f);

  batch.resize(3073 + 100);
  std::string truncated = write("truncated.bin", batch);
  EXPECT_FALSE(loadDataset("cifar10:" + truncated, data, error));
  EXPECT_EQ(error, truncated + ": error: at offset 3073: truncated record "
                               "(CIFAR-10 records are 3073 bytes)");
  batch.resize(3073);
  batch[0] = 12;
  std::string badLabel = write("label.bin", batch);
  EXPECT_FALSE(loadDataset("cifar10:" + badLabel, data, error));
  EXPECT_NE(error.find("at offset 0: label 12 is not a CIFAR-10 class"),
            std::string::npos);
}

TEST_F(DatasetTest, UnknownSpec) {
  Dataset data;
  std::string error;
  EXPECT_FALSE(loadDataset("mnist", data, error));
  EXPECT_NE(error.find("unknown dataset 'mnist'"), std::string::npos);
}

// The real Fashion-MNIST test set from the Debian package that
// scripts/install-deps.sh installs.
TEST(FashionMnist, TestSetFromTheDebianPackage) {
  Dataset data;
  std::string error;
  ASSERT_TRUE(loadDataset("fashion-mnist:test", data, error)) << error;
  EXPECT_EQ(data.count, 10000);
  EXPECT_EQ(data.height, 28);
  EXPECT_EQ(data.width, 28);
  EXPECT_EQ(data.numClasses, 10);
  std::vector<int> perClass(10);
  for (int32_t label : data.labels)
    ++perClass[label];
  for (int count : perClass)
    EXPECT_EQ(count, 1000); // the test set is balanced
  auto [low, high] = std::minmax_element(data.images.begin(), data.images.end());
  EXPECT_FLOAT_EQ(*low, -1.0f);
  EXPECT_FLOAT_EQ(*high, 1.0f);
}

} // namespace
