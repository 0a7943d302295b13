-- betlab session record: replay with `betlab run FILE`
-- betlab 0.1.0, recorded 2026-12-05T03:26:11Z to 2026-12-05T03:26:12Z
-- models:
--   r.m1: checksum bd8b9ee7 (random:16-8-4@3)
--   r.m2: checksum 6a0021df (fc-p0)
-- seeds: 3
local bl = require "betlab"
local r = {}
r.m1 = bl.model.random("16-8-4", 3)
r.m1:set_meta("name", "seed \"model\"\n")
r.m2 = bl.model.load("models/fc-p0.bnn")
r.m2:set_meta("note", "café \x1b")
return r
