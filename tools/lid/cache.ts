// Where the tools keep generated corpora, features and runs (the same rule as cache.py): $LANGHOOK_LID_CACHE,
// else $XDG_CACHE_HOME/langhook/lid, else ~/.cache/langhook/lid. Never a path of one machine.
import { homedir } from "node:os";
import { join } from "node:path";

export function cacheDir(...parts: string[]): string {
  const base =
    process.env.LANGHOOK_LID_CACHE ||
    join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "langhook", "lid");
  return join(base, ...parts);
}
