// --script parsing of the steps that drive the GUI's sources.
#include <doctest/doctest.h>

#include "distrvit/error.h"
#include "gui_script.h"

using distrvit::gui::parse_script;

TEST_CASE("gui script: dialog=PATH is a step with a path") {
  const auto steps = parse_script("dialog=/data/photo one.jpg; frames=1");
  REQUIRE(steps.size() == 2);
  CHECK(steps[0].key == "dialog");
  CHECK(steps[0].value == "/data/photo one.jpg");
  CHECK(steps[1].text() == "frames=1");
  CHECK_THROWS_WITH_AS(parse_script("dialog="), "--script: 'dialog' needs a value, got 'dialog='", distrvit::Error);
}
