local bl = require "betlab"
local r = {}
r.m1 = bl.model.random("6-4-3", 1)
r.m1:set_meta("x", string.rep("y", 100))
return r
