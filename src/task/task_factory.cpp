#include "task/task_factory.h"

#include "task/classification_task.h"
#include "task/g2p_task.h"
#include "task/masked_lm_task.h"
#include "task/translation_task.h"

namespace headcount {

std::vector<std::string> task_problems(const RunConfig& config) {
  switch (config.data.task) {
    case TaskKind::Cmudict: return {};
    case TaskKind::Parallel: return TranslationTask::problems(config.data);
    case TaskKind::MaskedLm: return MaskedLmTask::problems(config);
    case TaskKind::Classification: return ClassificationTask::problems(config);
  }
  return {};
}

std::unique_ptr<Task> make_task(const RunConfig& config, const Runtime& runtime, const std::string& where) {
  const auto problems = task_problems(config);
  if (!problems.empty()) {
    std::string message = where + ": invalid configuration:";
    for (const auto& p : problems) message += "\n  " + p;
    throw ConfigError(message);
  }
  switch (config.data.task) {
    case TaskKind::Cmudict: return std::make_unique<G2pTask>(config, runtime);
    case TaskKind::Parallel: return std::make_unique<TranslationTask>(config, runtime);
    case TaskKind::MaskedLm: return std::make_unique<MaskedLmTask>(config, runtime);
    case TaskKind::Classification: return std::make_unique<ClassificationTask>(config, runtime);
  }
  throw std::logic_error("task kind missing from make_task");
}

}  // namespace headcount
