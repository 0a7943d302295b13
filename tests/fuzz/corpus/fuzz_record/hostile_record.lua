-- betlab session record: replay with `betlab run FILE`
-- betlab 0.1.0, recorded 2026-12-05T03:23:34Z to 2026-12-05T03:23:34Z
-- models:
--   r.m1: checksum 79735ec6 (x\nos.execute('touch /nonexistent/x')\n--)
-- seeds: (none)
local bl = require "betlab"
local r = {}
r.m1 = bl.model.load("models/fc-p0.bnn")
r.m1:set_meta("note", "a\nos.execute('touch /nonexistent/x')\n]]\"")
return r
