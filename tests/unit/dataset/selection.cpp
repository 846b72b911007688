// Picking calibration samples as TPU-MLIR's DataSelector does: which files count, their order,
// the data-list form, and the errors.
#include <filesystem>
#include <sstream>

#include "dataset_test_util.hpp"

#include "mixq/calibration/dataset.hpp"

using namespace mixq;
using namespace mixq::test;
namespace fs = std::filesystem;

namespace {

void touch(const std::string& path) {
  fs::create_directories(fs::path(path).parent_path());
  write_bytes(path, "x");
}

std::vector<std::string> texts(const dataset_selection& s) {
  std::vector<std::string> out;
  for (const auto& x : s.samples) out.push_back(x.text);
  return out;
}

/// TPU-MLIR's DataSelector._random_select, run by Python on `dir` (directories are left out, as
/// mixq leaves them out; TPU-MLIR would list a folder named like an image).
std::vector<std::string> python_selection(const std::string& dir, bool shuffle) {
  const std::string script =
      "import os, pathlib, random, sys\n"
      "def kind(n):\n"
      "    e = n.lower().split('.')[-1]\n"
      "    return e in ('npz', 'npy', 'jpg', 'bmp', 'png', 'jpeg', 'jfif', 'yuv')\n"
      "full = sorted(str(f) for f in pathlib.Path(sys.argv[1]).glob('**/*') if kind(str(f)) and not f.is_dir())\n"
      "if sys.argv[2] == '1':\n"
      "    random.seed(1684)\n"
      "    random.shuffle(full)\n"
      "for f in full:\n"
      "    sys.stdout.buffer.write(os.fsencode(f) + b'\\n')\n";
  write_bytes(dir + ".py", script);
  bool ok = false;
  const std::string out = run_command("/usr/bin/python3 '" + dir + ".py' '" + dir + "' " + (shuffle ? "1" : "0"), ok);
  REQUIRE(ok);
  std::vector<std::string> lines;
  std::istringstream s(out);
  for (std::string l; std::getline(s, l);) lines.push_back(l);
  return lines;
}

}  // namespace

TEST_CASE("sample kinds are judged by the text after the path's last dot, ignoring case", "[dataset]") {
  CHECK(sample_kind_of("a/b.JPG") == sample_kind::image);
  CHECK(sample_kind_of("x.jpeg") == sample_kind::image);
  CHECK(sample_kind_of("x.JfIf") == sample_kind::image);
  CHECK(sample_kind_of("x.png") == sample_kind::image);
  CHECK(sample_kind_of("x.bmp") == sample_kind::image);
  CHECK(sample_kind_of("x.yuv") == sample_kind::yuv);
  CHECK(sample_kind_of("x.NPZ") == sample_kind::npz);
  CHECK(sample_kind_of("x.npy") == sample_kind::npy);
  CHECK(sample_kind_of("d/.jpg") == sample_kind::image);  // a hidden file named ".jpg" counts
  CHECK(!sample_kind_of("x.jpg.txt"));
  CHECK(!sample_kind_of("x.tif"));
  CHECK(!sample_kind_of("dir.jpg/README"));
  CHECK(!sample_kind_of("noext"));
}

TEST_CASE("the dataset listing is recursive, keeps hidden files, skips folders and symlinked folders", "[dataset]") {
  scratch_dir d;
  const std::string root = d.file("data");
  for (const char* f : {"b.jpg", "a.JPG", ".hidden.png", "sub/c.jpeg", "sub/deeper/d.bmp", "notes.txt", "x.jpg.txt", "sub/e.jfif"})
    touch(root + "/" + f);
  fs::create_directories(root + "/folder.jpg");
  touch(d.file("elsewhere/f.jpg"));
  fs::create_directory_symlink(d.file("elsewhere"), root + "/link");
  fs::create_symlink(d.file("elsewhere/f.jpg"), root + "/g.png");
  CHECK(list_dataset_files(root) == std::vector<std::string>{root + "/.hidden.png", root + "/a.JPG", root + "/b.jpg",
                                                             root + "/g.png", root + "/sub/c.jpeg",
                                                             root + "/sub/deeper/d.bmp", root + "/sub/e.jfif"});
  // The folder argument is normalised the way str(pathlib.Path(...)) does.
  CHECK(list_dataset_files(root + "//sub/").front() == root + "/sub/c.jpeg");
  if (have_python()) CHECK(list_dataset_files(root) == python_selection(root, false));
}

TEST_CASE("dataset order is Python's sorted(), then random.seed(1684) and random.shuffle", "[dataset]") {
  scratch_dir d;
  const std::string root = d.file("imgs");
  std::vector<std::string> sorted_names;
  for (int i = 0; i < 10; ++i) {
    const std::string f = root + "/img" + std::to_string(i) + ".jpg";
    touch(f);
    sorted_names.push_back(f);
  }
  const dataset_selection s = select_dataset(root);
  CHECK(s.kind == sample_kind::image);
  CHECK(s.source == root);
  // The stored seed-1684 permutation of ten items: 1 8 9 6 5 3 2 4 0 7.
  std::vector<std::string> want;
  for (int i : {1, 8, 9, 6, 5, 3, 2, 4, 0, 7}) want.push_back(sorted_names[static_cast<std::size_t>(i)]);
  CHECK(texts(s) == want);
  for (const auto& x : s.samples) {
    CHECK(x.files == std::vector<std::string>{x.text});
    CHECK(x.line == 0);
  }
  CHECK(texts(select_dataset(root, 3)) == std::vector<std::string>(want.begin(), want.begin() + 3));
  CHECK(select_dataset(root, 50).samples.size() == 10);
}

TEST_CASE("paths with non-ASCII and invalid UTF-8 names sort as Python sorts them", "[dataset][python]") {
  if (!have_python()) MIXQ_SKIP("/usr/bin/python3 is not there");
  scratch_dir d;
  const std::string root = d.file("u");
  for (const char* f : {"z.jpg", "\xc3\xa9.jpg", "\xff.jpg", "\xe6\x97\xa5\xe6\x9c\xac.png", "A.jpg", "_.jpg", "\xf0\x9f\x98\x80.jpg",
                        "\xed\xa0\x80.jpg", "\xc3.jpg", "a b.jpg", "sub/\xee\x80\x80.jpg", "sub.jpg/x.jpg", "~.png"})
    touch(root + "/" + f);
  CHECK(list_dataset_files(root) == python_selection(root, false));
  CHECK(texts(select_dataset(root)) == python_selection(root, true));
}

TEST_CASE("a dataset folder that is missing, empty or mixes kinds is an error naming it", "[dataset]") {
  scratch_dir d;
  CHECK_THROWS_WITH(select_dataset(d.file("missing")), Catch::Contains(d.file("missing")));
  fs::create_directories(d.file("empty/sub"));
  touch(d.file("empty/readme.txt"));
  CHECK_THROWS_WITH(select_dataset(d.file("empty")), Catch::Contains(d.file("empty")) && Catch::Contains("no calibration sample"));
  touch(d.file("mixed/a.jpg"));
  touch(d.file("mixed/b.npz"));
  CHECK_THROWS_WITH(select_dataset(d.file("mixed")), Catch::Contains("one kind") && Catch::Contains("a.jpg") && Catch::Contains("b.npz"));
  // Only the kept samples must agree, as in TPU-MLIR (the check runs after input_num).
  const dataset_selection one = select_dataset(d.file("mixed"), 1);
  CHECK(one.samples.size() == 1);
}

TEST_CASE("a data list: comma-separated files per line, blanks trimmed, blank lines skipped", "[dataset]") {
  scratch_dir d;
  for (const char* f : {"a0.npy", "a1.npy", "b0.npy", "b1.npy", "c0.npy", "c1.npy"}) touch(d.file(f));
  const std::string list = d.file("list.txt");
  write_bytes(list, d.file("a0.npy") + "," + d.file("a1.npy") + "\n\n  " + d.file("b0.npy") + " , " + d.file("b1.npy") +
                        "  \r\n" + d.file("c0.npy") + "," + d.file("c1.npy"));
  const dataset_selection s = read_data_list(list);
  CHECK(s.kind == sample_kind::npy);
  REQUIRE(s.samples.size() == 3);
  CHECK(s.samples[1].files == std::vector<std::string>{d.file("b0.npy"), d.file("b1.npy")});
  CHECK(s.samples[1].text == d.file("b0.npy") + " , " + d.file("b1.npy"));
  CHECK(s.samples[1].line == 3);
  CHECK(s.samples[2].line == 4);
  CHECK(read_data_list(list, 2).samples.size() == 2);
  CHECK(read_data_list(list, 9).samples.size() == 3);
}

TEST_CASE("data list errors name the list file and the line", "[dataset]") {
  scratch_dir d;
  touch(d.file("a.jpg"));
  touch(d.file("z.npz"));
  touch(d.file("y.npz"));
  auto list_with = [&](const std::string& text) {
    write_bytes(d.file("l.txt"), text);
    return d.file("l.txt");
  };
  CHECK_THROWS_WITH(read_data_list(list_with(d.file("a.jpg") + "\n\n" + d.file("gone.jpg") + "\n")),
                    Catch::Contains(d.file("l.txt") + ":3") && Catch::Contains("gone.jpg") && Catch::Contains("does not exist"));
  CHECK_THROWS_WITH(read_data_list(list_with(d.file("a.jpg") + "\n" + d.file("l.txt") + "\n")),
                    Catch::Contains(d.file("l.txt") + ":2") && Catch::Contains("not an npz"));
  CHECK_THROWS_WITH(read_data_list(list_with(d.file("a.jpg") + ",\n")), Catch::Contains(":1") && Catch::Contains("empty file name"));
  CHECK_THROWS_WITH(read_data_list(list_with(d.file("z.npz") + "," + d.file("y.npz") + "\n")),
                    Catch::Contains(":1") && Catch::Contains("one npz file per line"));
  CHECK_THROWS_WITH(read_data_list(list_with(d.file("a.jpg") + "\n" + d.file("z.npz") + "\n")), Catch::Contains("one kind"));
  CHECK_THROWS_WITH(read_data_list(list_with("\n \n")), Catch::Contains("names no sample"));
  CHECK_THROWS_WITH(read_data_list(d.file("no_list.txt")), Catch::Contains(d.file("no_list.txt")) && Catch::Contains("data list"));
}

TEST_CASE("dump_list writes selected_image_list.txt: one selected sample per line", "[dataset]") {
  scratch_dir d;
  touch(d.file("x/one.jpg"));
  touch(d.file("x/two.jpg"));
  const dataset_selection s = select_dataset(d.file("x"));
  dump_data_list(d.file(std::string(selected_list_file)), s);
  CHECK(read_bytes(d.file("selected_image_list.txt")) == s.samples[0].text + "\n" + s.samples[1].text + "\n");
  CHECK(selected_tune_list_file == "selected_tune_image_list.txt");
  CHECK_THROWS_WITH(dump_data_list("/nonexistent/dir/list.txt", s), Catch::Contains("/nonexistent/dir/list.txt"));
}
