// Saving and loading keeps every parameter, Admin's profiled w, and the config.
#include <filesystem>
#include <fstream>

#include "model/admin_profile.h"
#include "model/checkpoint.h"
#include "test_support.h"

namespace headcount {
namespace {

TEST(Checkpoint, RoundTripGivesIdenticalOutputs) {
  torch::manual_seed(9);
  auto config = testing::tiny_config(ResidualScheme::Admin);
  config.learned_positions = true;
  Transformer model(config);
  auto source = torch::tensor({{3, 4, 5, 6}, {7, 8, 0, 0}}, torch::kLong);
  auto target = torch::tensor({{1, 4, 9}, {1, 5, 0}}, torch::kLong);
  profile_admin(model, source, target);
  model->eval();
  auto expected = model->logits(model->decode(target, model->encode(source), source));

  auto path = (std::filesystem::temp_directory_path() / "headcount_checkpoint_test.pt").string();
  save_checkpoint(model, path, {{"update", 42}});
  EXPECT_FALSE(std::filesystem::exists(path + ".partial"));
  auto loaded = load_checkpoint(path);
  loaded.model->eval();
  auto actual = loaded.model->logits(loaded.model->decode(target, loaded.model->encode(source), source));
  EXPECT_TRUE(torch::equal(expected, actual));
  EXPECT_EQ(loaded.extra.at("update").get<int>(), 42);
  EXPECT_EQ(loaded.model->config().residual, ResidualScheme::Admin);
  EXPECT_TRUE(loaded.model->config().learned_positions);
  auto a = model->decoder_residuals(), b = loaded.model->decoder_residuals();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_DOUBLE_EQ(a[i]->scale(), b[i]->scale());
  std::filesystem::remove(path);
}

// model.embedding_norm: BERT's LayerNorm(word + position) with the words unscaled; a
// checkpoint written before the key existed reads as without it.
TEST(Checkpoint, EmbeddingNormIsKeptAndOlderCheckpointsReadWithoutIt) {
  auto config = testing::tiny_config(ResidualScheme::PostLn, Architecture::Encoder);
  config.embedding_norm = true;
  torch::manual_seed(4);
  Transformer model(config);
  model->eval();
  auto source = torch::tensor({{3, 4, 5, 6}, {7, 8, 0, 0}}, torch::kLong);
  // The embedded source is LayerNorm(word + position), words unscaled.
  auto words = model->source_embedding->weight.index_select(0, source.flatten()).view({2, 4, -1});
  auto expected = torch::layer_norm(words + model->named_buffers()["sinusoidal_positions"].narrow(0, 0, 4), {8},
                                    model->source_embedding_norm->weight, model->source_embedding_norm->bias);
  EXPECT_TRUE(torch::allclose(model->embed_source(source), expected, 1e-6, 1e-6));
  auto json = model_config_to_json(config);
  EXPECT_EQ(model_config_from_json(json).embedding_norm, true);
  json.erase("model.embedding_norm");
  EXPECT_EQ(model_config_from_json(json).embedding_norm, false);
}

TEST(Checkpoint, MissingOrForeignFileGivesAClearError) {
  EXPECT_THROW(load_checkpoint("/nonexistent/checkpoint.pt"), std::runtime_error);
  auto path = (std::filesystem::temp_directory_path() / "headcount_not_a_checkpoint.pt").string();
  { std::ofstream(path) << "hello"; }
  try {
    load_checkpoint(path);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
  }
  std::filesystem::remove(path);
}

// A corrupt header is refused by name before any tensor is made: unreadable JSON, an
// unsound model, or one larger than its file could hold (which would otherwise be allocated).
TEST(Checkpoint, HeaderIsCheckedBeforeAnyTensorIsMade) {
  auto config = testing::tiny_config(ResidualScheme::PostLn);
  auto json = model_config_to_json(config);
  const uintmax_t bytes = 1u << 20;
  EXPECT_EQ(model_config_to_json(checkpoint_model_config(json.dump(), bytes, "a.pt")), json);
  auto error = [&](const std::string& text, uintmax_t file_bytes) -> std::string {
    try {
      checkpoint_model_config(text, file_bytes, "a.pt");
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(error("{\"model.d_model\": ", bytes).rfind("a.pt: its model config is not readable (", 0), 0u);
  EXPECT_EQ(error("[1, 2]", bytes), "a.pt: its model config is not readable (not a JSON object)");
  auto unsound = json;
  unsound["model.encoder.heads"] = "0";
  EXPECT_EQ(error(unsound.dump(), bytes).rfind("a.pt: its model config is not sound: model.encoder.heads", 0), 0u);
  auto huge = json;
  huge["model.d_model"] = "4000000000";
  huge["model.encoder.heads"] = "1";
  huge["model.decoder.heads"] = "1";
  EXPECT_NE(error(huge.dump(), bytes).find("more than its 1048576 bytes hold"), std::string::npos) << error(huge.dump(), bytes);
  // The smallest file the real model fits in passes; half of its weights' bytes does not.
  Transformer model(config);
  int64_t weights = 0;
  for (const auto& p : model->parameters()) weights += p.numel();
  EXPECT_EQ(error(json.dump(), static_cast<uintmax_t>(weights) * 4), "");
  EXPECT_NE(error(json.dump(), static_cast<uintmax_t>(weights) / 2), "");
}

}  // namespace
}  // namespace headcount
