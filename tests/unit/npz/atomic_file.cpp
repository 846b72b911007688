// write_file_atomically / atomic_file_writer: all or nothing, errors name the path.
#include <filesystem>

#include "npz_test_util.hpp"

#include "mixq/io/atomic_file.hpp"

using namespace mixq;
using namespace mixq::test;

TEST_CASE("write_file_atomically creates and replaces files, leaving no temporary behind", "[atomic]") {
  temp_dir dir;
  write_file_atomically(dir.file("f.txt"), "first");
  CHECK(slurp(dir.file("f.txt")) == "first");
  write_file_atomically(dir.file("f.txt"), "second, longer");
  CHECK(slurp(dir.file("f.txt")) == "second, longer");
  write_file_atomically(dir.file("empty.txt"), "");
  CHECK(slurp(dir.file("empty.txt")).empty());
  CHECK(dir.count_files() == 2);
}

TEST_CASE("an unwritable destination is an error naming the path", "[atomic]") {
  CHECK_THROWS_WITH(write_file_atomically("/nonexistent/dir/out.bin", "x"),
                    Catch::Contains("/nonexistent/dir/out.bin") && Catch::Contains("No such file or directory"));
  temp_dir dir;
  std::filesystem::create_directory(dir.file("sub"));
  // The destination is a directory: the rename fails and the temporary file is removed.
  CHECK_THROWS_WITH(write_file_atomically(dir.file("sub"), "x"), Catch::Contains(dir.file("sub")));
  CHECK(dir.count_files() == 1);
  npz_file f;
  f.add("a", tensor::scalar<float>(1));
  CHECK_THROWS_WITH(write_npz("/nonexistent/dir/w.npz", f), Catch::Contains("/nonexistent/dir/w.npz"));
  CHECK_THROWS_WITH(write_npy("/nonexistent/dir/w.npy", f.at("a")), Catch::Contains("/nonexistent/dir/w.npy"));
}

TEST_CASE("a streaming writer that is not committed leaves the old file untouched", "[atomic]") {
  temp_dir dir;
  write_file_atomically(dir.file("keep.txt"), "old");
  {
    atomic_file_writer w(dir.file("keep.txt"));
    w.write("new data that never lands");
    CHECK(w.bytes_written() == 25);
    CHECK(dir.count_files() == 2);  // the temporary file exists meanwhile
  }
  CHECK(slurp(dir.file("keep.txt")) == "old");
  CHECK(dir.count_files() == 1);
  {
    atomic_file_writer w(dir.file("keep.txt"));
    w.write("ab", 2);
    w.write(std::string_view("cd"));
    w.commit();
    CHECK_THROWS_AS(w.write("late"), mixq::error);
  }
  CHECK(slurp(dir.file("keep.txt")) == "abcd");
  CHECK(dir.count_files() == 1);
}
