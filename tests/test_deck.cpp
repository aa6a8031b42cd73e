// Input deck: schema, parser, error messages, printer and overrides.
#include "hnet/deck.hpp"
#include "hnet/job_file.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

using hnet::Deck;
using hnet::DeckError;
using hnet::parse_deck;

namespace {

// The DeckError message for `text` (with overrides); fails the test if it parses.
std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    parse_deck(text, "deck.toml", overrides);
  } catch (const DeckError& e) {
    return e.what();
  }
  ADD_FAILURE() << "deck was accepted:\n" << text;
  return {};
}

bool same_bits(double a, double b) { return a == b && std::signbit(a) == std::signbit(b); }

std::string write_temp_file(const std::string& contents) {
  std::string path = ::testing::TempDir() + "hnet_deck_XXXXXX";
  const int fd = mkstemp(path.data());
  EXPECT_GE(fd, 0);
  if (fd >= 0) close(fd);
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

// Every key name printed by to_toml, as "section.key".
std::vector<std::string> printed_keys(const std::string& toml) {
  std::vector<std::string> keys;
  std::istringstream in(toml);
  std::string line, section;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '[') {
      section = line.substr(1, line.find(']') - 1);
      continue;
    }
    keys.push_back(section + "." + line.substr(0, line.find(' ')));
  }
  return keys;
}

}  // namespace

TEST(Deck, EnumNamesAreTheDeckSpellings) {
  EXPECT_STREQ(hnet::to_string(hnet::InputDistribution::uniform), "uniform");
  EXPECT_STREQ(hnet::to_string(hnet::TargetNorm::l2sq), "l2sq");
  EXPECT_STREQ(hnet::to_string(hnet::Readout::edge_bilinear), "edge_bilinear");
  EXPECT_STREQ(hnet::to_string(hnet::Prior::learned), "learned");
  EXPECT_STREQ(hnet::to_string(hnet::SigmaParam::softplus), "softplus");
  EXPECT_STREQ(hnet::to_string(hnet::Objective::log_loss), "log_loss");
  EXPECT_STREQ(hnet::to_string(hnet::NonFinitePolicy::skip), "skip");
  EXPECT_STREQ(hnet::to_string(hnet::ParallelMode::fixed_beta), "fixed_beta");
  EXPECT_STREQ(hnet::to_string(static_cast<hnet::Readout>(7)), "<invalid>");
}

TEST(Deck, DefaultsAreTheReferenceConfiguration) {
  const Deck d = hnet::default_deck();
  EXPECT_EQ(d.target.n, 16);
  EXPECT_EQ(d.target.hidden(), 48);
  EXPECT_EQ(d.model.d % d.model.heads, 0);
  EXPECT_EQ(d.model.readout, hnet::Readout::edge_bilinear);
  EXPECT_EQ(d.model.sigma, hnet::SigmaParam::bounded);
  EXPECT_DOUBLE_EQ(d.model.prior_scale, 0.2);
  EXPECT_DOUBLE_EQ(d.train.lr, 3e-3);
  EXPECT_EQ(d.sweep.sizes, (std::vector<int64_t>{4, 8, 12, 20, 24, 32}));
  EXPECT_EQ(d.source, "<defaults>");
}

TEST(Deck, EmptyAndCommentOnlyTextsGiveDefaults) {
  const std::string defaults = hnet::to_toml(hnet::default_deck());
  for (const std::string text : {"", "\n\n", "# nothing here\n   \n", "\xEF\xBB\xBF"}) {
    const Deck d = parse_deck(text, "empty.toml");
    EXPECT_EQ(hnet::to_toml(d), defaults);
    EXPECT_EQ(d.source, "empty.toml");
  }
}

TEST(Deck, PrintedDefaultsReadBackIdentically) {
  const std::string text = hnet::to_toml(hnet::default_deck());
  EXPECT_EQ(hnet::to_toml(parse_deck(text, "x")), text);
}

TEST(Deck, RoundTripIsBitExactForAwkwardValues) {
  Deck d = hnet::default_deck();
  d.task.input = hnet::InputDistribution::uniform;
  d.task.eval_seed = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  d.model.u_init = 0.1 + 0.2;                       // 0.30000000000000004
  d.model.identity_scale = 1.0 / 3.0;
  d.model.type_scale = 0.1;
  d.model.identity_draw = hnet::IdentityDraw::per_network;
  d.model.rho_bias_init = -0.0;
  d.model.prior_scale = 4.9406564584124654e-324;    // smallest subnormal
  d.train.lr = 1e-300;
  d.train.adam_beta2 = std::nextafter(1.0, 0.0);    // largest value below 1
  d.train.clip_norm = 1e12;
  d.train.objective = hnet::Objective::sum;
  d.sweep.steps = {0, 7, 3000};
  d.sweep.sizes = {};
  d.parallel.mode = hnet::ParallelMode::fixed_beta;
  d.parallel.fixed_log10_betas = {-7, -6.5, 0.1, 1};
  d.output.dir = "odd \"dir\"\\ with 'quotes' and \xC3\xA9 # not a comment";

  const Deck back = parse_deck(hnet::to_toml(d), "x");
  EXPECT_EQ(back.task.input, hnet::InputDistribution::uniform);
  EXPECT_EQ(back.task.eval_seed, d.task.eval_seed);
  EXPECT_TRUE(same_bits(back.model.u_init, d.model.u_init));
  EXPECT_TRUE(same_bits(back.model.identity_scale, d.model.identity_scale));
  EXPECT_TRUE(same_bits(back.model.type_scale, d.model.type_scale));
  EXPECT_EQ(back.model.identity_draw, hnet::IdentityDraw::per_network);
  EXPECT_TRUE(same_bits(back.model.rho_bias_init, -0.0));
  EXPECT_TRUE(same_bits(back.model.prior_scale, d.model.prior_scale));
  EXPECT_TRUE(same_bits(back.train.lr, d.train.lr));
  EXPECT_TRUE(same_bits(back.train.adam_beta2, d.train.adam_beta2));
  EXPECT_TRUE(same_bits(back.train.clip_norm, 1e12));
  EXPECT_EQ(back.train.objective, hnet::Objective::sum);
  EXPECT_EQ(back.sweep.steps, d.sweep.steps);
  EXPECT_TRUE(back.sweep.sizes.empty());
  EXPECT_EQ(back.parallel.mode, hnet::ParallelMode::fixed_beta);
  ASSERT_EQ(back.parallel.fixed_log10_betas.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i)
    EXPECT_TRUE(same_bits(back.parallel.fixed_log10_betas[i], d.parallel.fixed_log10_betas[i]));
  EXPECT_EQ(back.output.dir, d.output.dir);
  EXPECT_EQ(hnet::to_toml(back), hnet::to_toml(d));
}

TEST(Deck, PrinterWritesFloatsAsTomlFloatsWithComments) {
  Deck d = hnet::default_deck();
  d.train.lr = 2.0;
  const std::string text = hnet::to_toml(d);
  EXPECT_NE(text.find("\nlr = 2.0 "), std::string::npos) << text;
  EXPECT_NE(text.find("\nidentity_scale = 1.0 "), std::string::npos);
  EXPECT_NE(text.find("\nlog10_beta_min = -7.0 "), std::string::npos);
  EXPECT_NE(text.find("\nsteps = 3000 "), std::string::npos);
  EXPECT_NE(text.find("\nreadout = \"edge_bilinear\" "), std::string::npos);
  // One key per line, each explained.
  std::istringstream in(text);
  std::string line;
  int keys = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line[0] == '[') continue;
    ++keys;
    EXPECT_NE(line.find(" = "), std::string::npos) << line;
    EXPECT_NE(line.find(" # "), std::string::npos) << line;
  }
  EXPECT_EQ(keys, 69);
}

// A hold at target.n (train.sizes_hold_steps) needs a model for target.n among train.sizes.
TEST(Deck, SizesHoldNeedsTargetSizeAmongTheSizes) {
  const std::string msg = error_of("[target]\nn = 16\n[train]\nsizes = [4, 8]\nsizes_hold_steps = 10\n");
  EXPECT_NE(msg.find("target.n = 16 is not in train.sizes"), std::string::npos) << msg;
  EXPECT_NO_THROW(parse_deck("[target]\nn = 16\n[train]\nsizes = [4, 16]\nsizes_hold_steps = 10\n", "deck.toml", {}));
}

TEST(Deck, SyntaxErrorReportsFileLineAndColumn) {
  const std::string msg = error_of("[train]\nsteps = 10\nlr = = 3\n");
  EXPECT_EQ(msg.rfind("deck.toml:3:", 0), 0u) << msg;
  EXPECT_NE(msg.find("syntax error"), std::string::npos) << msg;

  const std::string dup = error_of("[model]\nd = 8\nd = 16\n");
  EXPECT_EQ(dup.rfind("deck.toml:3:", 0), 0u) << dup;
}

TEST(Deck, InvalidUtf8TruncatedAndBinaryTextsAreDeckErrors) {
  EXPECT_EQ(error_of("[output]\ndir = \"a\xff\xfe\"\n").rfind("deck.toml:2:", 0), 0u);
  EXPECT_EQ(error_of("[train]\nsteps = 1\nl").rfind("deck.toml:3:", 0), 0u);
  EXPECT_EQ(error_of("[train\n").rfind("deck.toml:1:", 0), 0u);
  EXPECT_EQ(error_of("[output]\ndir = \"unterminated\n").rfind("deck.toml:2:", 0), 0u);
  EXPECT_EQ(error_of(std::string("[train]\x00steps = 1\n", 19)).rfind("deck.toml:1:", 0), 0u);
}

TEST(Deck, ArbitraryBytesAndTruncationsNeverCrash) {
  const std::string good = hnet::to_toml(hnet::default_deck()) + "[model.x]\ny = [[1, 2], {a = 3}]\n";
  int accepted = 0, rejected = 0;
  auto attempt = [&](const std::string& text) {
    try {
      parse_deck(text, "fuzz");
      ++accepted;
    } catch (const DeckError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("fuzz", 0), 0u) << e.what();
      ++rejected;
    }
  };
  for (std::size_t cut = 0; cut <= good.size(); cut += 3) attempt(good.substr(0, cut));
  uint64_t state = 12345;
  auto next = [&state] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(state >> 33);
  };
  for (int trial = 0; trial < 3000; ++trial) {
    std::string text = good;
    const int flips = 1 + static_cast<int>(next() % 4);
    for (int k = 0; k < flips; ++k) text[next() % text.size()] = static_cast<char>(next() & 0xff);
    attempt(text);
    std::string noise(next() % 64, '\0');
    const std::string alphabet = "[]=\"'.,{}#\n 0123456789aeinftrux\\\xc3\xff";
    for (char& c : noise) c = alphabet[next() % alphabet.size()];
    attempt(noise);
  }
  attempt(std::string(100000, '['));
  attempt("a = " + std::string(5000, '[') + std::string(5000, ']'));
  EXPECT_GT(accepted, 0);
  EXPECT_GT(rejected, 0);
}

TEST(Deck, UnknownSectionSuggestsTheClosestAndListsAll) {
  const std::string msg = error_of("# header\n[modle]\nd = 8\n");
  EXPECT_EQ(msg.rfind("deck.toml:2:", 0), 0u) << msg;
  EXPECT_NE(msg.find("modle: unknown section"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'model'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("valid sections: task, target, model, train, sweep, parallel, output"),
            std::string::npos)
      << msg;

  const std::string stray = error_of("steps = 10\n");
  EXPECT_NE(stray.find("did you mean train.steps"), std::string::npos) << stray;
}

TEST(Deck, UnknownKeyListsTheSectionsKeysAndSuggests) {
  const std::string msg = error_of("[train]\nsteps = 10\nstepz = 5\n");
  EXPECT_EQ(msg.rfind("deck.toml:3:1: train.stepz: unknown key", 0), 0u) << msg;
  EXPECT_NE(msg.find("did you mean 'steps'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("valid keys in [train]: steps, batch_beta, batch_x"), std::string::npos) << msg;

  const std::string far = error_of("[train]\nfrobnicate = 1\n");
  EXPECT_EQ(far.find("did you mean"), std::string::npos) << far;

  const std::string elsewhere = error_of("[train]\nreadout = \"edge\"\n");
  EXPECT_NE(elsewhere.find("belongs in [model]"), std::string::npos) << elsewhere;
}

TEST(Deck, SectionThatIsNotATableIsAnError) {
  const std::string msg = error_of("\nmodel = 3\n");
  EXPECT_EQ(msg.rfind("deck.toml:2:", 0), 0u) << msg;
  EXPECT_NE(msg.find("model: expected a table, got integer"), std::string::npos) << msg;
  EXPECT_NE(error_of("[[train]]\nsteps = 1\n").find("train: expected a table, got array"),
            std::string::npos);
}

TEST(Deck, WrongTypeNamesLineKeyAndExpectation) {
  const std::string msg = error_of("[train]\nlr = 0.01\nsteps = \"many\"\n");
  EXPECT_NE(msg.find(":3:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("train.steps: expected integer, got string"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[1, 1000000000]"), std::string::npos) << msg;

  EXPECT_NE(error_of("[model]\nposterior_identity = \"yes\"\n").find("expected boolean, got string"),
            std::string::npos);
  EXPECT_NE(error_of("[output]\ndir = 5\n").find("output.dir: expected string, got integer"),
            std::string::npos);
  EXPECT_NE(error_of("[sweep]\nsizes = 8\n").find("sweep.sizes: expected array, got integer"),
            std::string::npos);
  EXPECT_NE(error_of("[model]\nd = {x = 1}\n").find("expected integer, got table"), std::string::npos);
}

TEST(Deck, IntegerIsAcceptedForFloatButFloatNotForInteger) {
  const Deck d = parse_deck("[train]\nlr = 1\nlog10_beta_min = -5\n", "x");
  EXPECT_TRUE(same_bits(d.train.lr, 1.0));
  EXPECT_TRUE(same_bits(d.train.log10_beta_min, -5.0));

  const std::string msg = error_of("[train]\nsteps = 5.0\n");
  EXPECT_NE(msg.find("deck.toml:2:9: train.steps: expected integer, got float"), std::string::npos) << msg;
}

TEST(Deck, OutOfRangeValuesShowTheInterval) {
  EXPECT_NE(error_of("[model]\nd = 0\n").find("deck.toml:2:5: model.d: must be in [1, 4096], got 0"),
            std::string::npos);
  EXPECT_NE(error_of("[train]\nlr = 0.0\n").find("train.lr: must be in (0, 10], got 0"), std::string::npos);
  EXPECT_NE(error_of("[train]\nadam_beta2 = 1.0\n").find("must be in [0, 1), got 1"), std::string::npos);
  EXPECT_NE(error_of("[train]\nseed = -1\n").find("train.seed: must be >= 0, got -1"), std::string::npos);
  EXPECT_NE(error_of("[target]\nn = 5000\n").find("target.n: must be in [1, 4096], got 5000"),
            std::string::npos);
  // The largest seed TOML can spell is accepted.
  EXPECT_EQ(parse_deck("[train]\nseed = 9223372036854775807\n", "x").train.seed, 9223372036854775807ull);
}

TEST(Deck, BadEnumValueListsTheAllowedOnes) {
  const std::string msg = error_of("[model]\nreadout = \"bilinear\"\n");
  EXPECT_NE(msg.find("deck.toml:2:11: model.readout: unknown value \"bilinear\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("one of edge, edge_bilinear"), std::string::npos) << msg;
  EXPECT_NE(error_of("[task]\ntarget = \"L1\"\n").find("did you mean 'l1'"), std::string::npos);
  EXPECT_NE(error_of("[task]\ntarget = 1\n").find("expected string, got integer"), std::string::npos);
}

TEST(Deck, ListElementErrorsNameTheIndex) {
  const std::string msg = error_of("[sweep]\nsizes = [4, 8,\n  12.5, 0]\n");
  EXPECT_NE(msg.find("deck.toml:3:3: sweep.sizes[2]: expected integer, got float"), std::string::npos) << msg;
  EXPECT_NE(msg.find("deck.toml:3:9: sweep.sizes[3]: must be in [1, 4096], got 0"), std::string::npos) << msg;
  EXPECT_NE(error_of("[parallel]\nfixed_log10_betas = [-3, \"x\"]\n")
                .find("parallel.fixed_log10_betas[1]: expected float, got string"),
            std::string::npos);
  // Integers promote inside float lists too.
  const Deck d = parse_deck("[parallel]\nfixed_log10_betas = [-3, -2.5]\n", "x");
  EXPECT_EQ(d.parallel.fixed_log10_betas, (std::vector<double>{-3.0, -2.5}));
}

TEST(Deck, NonFiniteFloatsAreRejected) {
  EXPECT_NE(error_of("[train]\nlr = nan\n").find("train.lr: must be finite, got nan"), std::string::npos);
  EXPECT_NE(error_of("[train]\nclip_norm = inf\n").find("must be finite, got inf"), std::string::npos);
  EXPECT_NE(error_of("[sweep]\npudding_o3 = -inf\n").find("must be finite, got -inf"), std::string::npos);
  EXPECT_NE(error_of("[parallel]\nfixed_log10_betas = [1.0, nan]\n")
                .find("parallel.fixed_log10_betas[1]: must be finite"),
            std::string::npos);
}

TEST(Deck, StringKeysRejectEmptyAndControlCharacters) {
  EXPECT_NE(error_of("[output]\ndir = \"\"\n").find("output.dir: must not be empty"), std::string::npos);
  EXPECT_NE(error_of("[output]\ndir = \"a\\nb\"\n").find("must not contain control characters"),
            std::string::npos);
  EXPECT_EQ(parse_deck("[output]\ndir = 'C:\\runs\\x'\n", "x").output.dir, "C:\\runs\\x");
}

TEST(Deck, AllProblemsAreReportedInFileOrder) {
  const std::string msg = error_of("[train]\nsteps = 0\nlr = \"fast\"\n[model]\nheads = 0.5\n");
  const auto a = msg.find("deck.toml:2:"), b = msg.find("deck.toml:3:"), c = msg.find("deck.toml:5:");
  ASSERT_NE(a, std::string::npos) << msg;
  ASSERT_NE(b, std::string::npos) << msg;
  ASSERT_NE(c, std::string::npos) << msg;
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);

  std::string many = "[train]\n";
  for (int i = 0; i < 30; ++i) many += "unknown_" + std::to_string(i) + " = 1\n";
  const std::string capped = error_of(many);
  EXPECT_NE(capped.find("deck.toml: 10 more problems not shown"), std::string::npos) << capped;
}

TEST(Deck, DottedKeysAndInlineTablesWork) {
  const Deck d = parse_deck("model.d = 64\ntrain = { steps = 7, lr = 0.5 }\n[sweep]\nsizes = []\n", "x");
  EXPECT_EQ(d.model.d, 64);
  EXPECT_EQ(d.train.steps, 7);
  EXPECT_TRUE(same_bits(d.train.lr, 0.5));
  EXPECT_TRUE(d.sweep.sizes.empty());
}

TEST(Deck, CrossKeyChecksNameTheKeysAndTheRule) {
  const std::string heads = error_of("[model]\nd = 30\nheads = 4\n");
  EXPECT_NE(heads.find("deck.toml:3:9: model.heads: model.d = 30 is not a multiple of model.heads = 4"),
            std::string::npos)
      << heads;

  const std::string range = error_of("[train]\nlog10_beta_min = 1\n");
  EXPECT_NE(range.find("deck.toml:2:18: train.log10_beta_max:"), std::string::npos) << range;
  EXPECT_NE(range.find("log10_beta_min must be below"), std::string::npos) << range;

  const std::string empty = error_of("[parallel]\nmode = \"fixed_beta\"\n");
  EXPECT_NE(empty.find("parallel.fixed_log10_betas: is empty"), std::string::npos) << empty;

  const std::string outside = error_of("[parallel]\nmode = \"fixed_beta\"\nfixed_log10_betas = [-3, 2]\n");
  EXPECT_NE(outside.find("entry [1] = 2 lies outside [-7, 1]"), std::string::npos) << outside;

  EXPECT_NE(error_of("[parallel]\nranks_per_group = 9\n").find("exceeds train.batch_beta = 8"),
            std::string::npos);
  EXPECT_NE(error_of("[sweep]\nsizes = [4, 8, 4]\n").find("size 4 is listed twice"), std::string::npos);
  EXPECT_NE(error_of("[sweep]\nsteps = [9, 5, 7, 5, 9]\n").find("step 5 is listed twice"), std::string::npos);
  EXPECT_NE(error_of("[sweep]\nsteps = [100, 5000]\n").find("step 5000 is beyond train.steps = 3000"),
            std::string::npos);
  EXPECT_NE(error_of("[target]\nn = 4096\nhidden_ratio = 64\n").find("edges"), std::string::npos);
  // Defaults that only appear in a rule get the source name as their location.
  EXPECT_NE(error_of("", {"sweep.steps=[3001]"}).find("--set sweep.steps=[3001]: sweep.steps:"),
            std::string::npos);

  const Deck ok = parse_deck("[parallel]\nmode = \"fixed_beta\"\nfixed_log10_betas = [-7, 1]\n", "x");
  EXPECT_EQ(ok.parallel.fixed_log10_betas.size(), 2u);
}

TEST(Deck, OverridesApplyAfterTheFileThenCrossChecksRun) {
  const std::string file = "[model]\nd = 30\nheads = 4\n[train]\nsteps = 10\n";
  const Deck d = parse_deck(file, "deck.toml",
                            {"model.heads=5", "train.steps = 20", "model.readout=edge", "train.lr=1",
                             "sweep.sizes=[3, 5]", "output.dir=2024", "output.overwrite=true",
                             "task.input=\"uniform\"", "train.steps=30"});
  EXPECT_EQ(d.model.heads, 5);
  EXPECT_EQ(d.train.steps, 30);  // the last override wins
  EXPECT_EQ(d.model.readout, hnet::Readout::edge);
  EXPECT_TRUE(same_bits(d.train.lr, 1.0));
  EXPECT_EQ(d.sweep.sizes, (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(d.output.dir, "2024");
  EXPECT_TRUE(d.output.overwrite);
  EXPECT_EQ(d.task.input, hnet::InputDistribution::uniform);

  const std::string msg = error_of("[model]\nd = 32\n", {"model.heads=5"});
  EXPECT_EQ(msg.rfind("--set model.heads=5: model.heads: model.d = 32 is not a multiple", 0), 0u) << msg;
}

TEST(Deck, OverrideErrorsNameTheOverride) {
  const std::string msg = error_of("", {"train.stepz=5"});
  EXPECT_EQ(msg.rfind("--set train.stepz=5: train.stepz: unknown key", 0), 0u) << msg;
  EXPECT_NE(msg.find("did you mean 'steps'"), std::string::npos) << msg;

  EXPECT_NE(error_of("", {"train.steps=lots"}).find("--set train.steps=lots: train.steps: expected integer, got string"),
            std::string::npos);
  EXPECT_NE(error_of("", {"train.steps=2.5"}).find("expected integer, got float"), std::string::npos);
  EXPECT_NE(error_of("", {"model.readout=fancy"}).find("--set model.readout=fancy: model.readout: unknown value"),
            std::string::npos);
  EXPECT_NE(error_of("", {"trian.steps=5"}).find("did you mean 'train'"), std::string::npos);
  EXPECT_NE(error_of("", {"output.dir=a\xff"}).find("not valid UTF-8"), std::string::npos);
  // A value cannot smuggle in more keys.
  EXPECT_NE(error_of("", {"train.steps=5\nlr = 1"}).find("expected integer, got string"), std::string::npos);
  // File problems and override problems are reported together, file first.
  const std::string both = error_of("[model]\nd = 0\n", {"train.lr=-1"});
  EXPECT_LT(both.find("deck.toml:2:5"), both.find("--set train.lr=-1"));
}

TEST(Deck, MalformedOverridesAreErrors) {
  for (const std::string bad : {"steps", "train.steps", "=5", "train=5", ".steps=5", "train.=5"}) {
    const std::string msg = error_of("", {bad});
    EXPECT_EQ(msg.rfind("--set " + bad + ": ", 0), 0u) << msg;
  }
  EXPECT_NE(error_of("", {"steps=5"}).find("expected section.key=value"), std::string::npos);
}

TEST(Deck, LoadDeckReadsAFileAndNamesIt) {
  const std::string path = write_temp_file("[target]\nn = 8\n[train]\nsteps = 2400\nbatch_x = \"x\"\n");
  const std::string msg = [&] {
    try {
      hnet::load_deck(path);
    } catch (const DeckError& e) {
      return std::string(e.what());
    }
    return std::string();
  }();
  EXPECT_EQ(msg.rfind(path + ":5:11: train.batch_x: expected integer", 0), 0u) << msg;

  std::remove(path.c_str());

  const std::string good = write_temp_file("[target]\nn = 8\n[train]\nsteps = 2400\n");
  const Deck d = hnet::load_deck(good, {"train.batch_x=64"});
  EXPECT_EQ(d.target.n, 8);
  EXPECT_EQ(d.train.steps, 2400);
  EXPECT_EQ(d.train.batch_x, 64);
  EXPECT_EQ(d.source, good);
  std::remove(good.c_str());
}

TEST(Deck, LoadDeckReportsMissingAndUnreadableFiles) {
  const std::string missing = ::testing::TempDir() + "no_such_deck_here.toml";
  try {
    hnet::load_deck(missing);
    ADD_FAILURE() << "missing file accepted";
  } catch (const DeckError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(missing + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find("No such file or directory"), std::string::npos) << msg;
  }
  try {
    hnet::load_deck(::testing::TempDir());
    ADD_FAILURE() << "directory accepted";
  } catch (const DeckError& e) {
    EXPECT_NE(std::string(e.what()).find("Is a directory"), std::string::npos) << e.what();
  }
}

TEST(Deck, MarkdownReferenceCoversEveryKey) {
  const std::string md = hnet::deck_reference_markdown();
  const auto keys = printed_keys(hnet::to_toml(hnet::default_deck()));
  ASSERT_EQ(keys.size(), 69u);
  for (const std::string& dotted : keys) {
    const std::string section = dotted.substr(0, dotted.find('.'));
    const std::string key = dotted.substr(dotted.find('.') + 1);
    const auto at = md.find("### [" + section + "]");
    ASSERT_NE(at, std::string::npos) << section;
    EXPECT_NE(md.find("| `" + key + "` |", at), std::string::npos) << dotted;
  }
  EXPECT_NE(md.find("| `readout` | enum | `\"edge_bilinear\"` | `edge`, `edge_bilinear` |"), std::string::npos);
  EXPECT_NE(md.find("| `d` | integer | `32` | [1, 4096] |"), std::string::npos);
  EXPECT_NE(md.find("Cross-key checks"), std::string::npos);
  EXPECT_NE(md.find("`model.heads`, `model.d`"), std::string::npos);
}

// A results file written before a [model] key existed lacks its line; read back, it must still
// match a deck that leaves the key at its default, and not one that changes it.
TEST(JobFile, StoredModelSectionWithoutANewerKeyStillMatches) {
  Deck d = hnet::default_deck();
  d.model.type_scale = 0.1;
  const std::string current = hnet::model_section(d);
  std::string older;
  std::istringstream lines(current);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("identity_draw", 0) != 0) older += line + "\n";
  ASSERT_NE(older, current);
  EXPECT_EQ(hnet::canonical_model_section(older), current);
  Deck changed = d;
  changed.model.identity_draw = hnet::IdentityDraw::per_network;
  EXPECT_NE(hnet::canonical_model_section(older), hnet::model_section(changed));
  EXPECT_EQ(hnet::canonical_model_section("not a deck [["), "not a deck [[");
}
