// The page-wide confirmation line ("Deleted …"): a polite live region, cleared on navigation.

import { $ } from "/common/dom.js";
import { hush, say } from "/common/ui.js";

export function notify(render) {
  say($("#notice"), render);
}

export function clearNotice() {
  hush($("#notice"));
}
