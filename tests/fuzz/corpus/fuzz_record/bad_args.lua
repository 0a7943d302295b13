local bl = require "betlab"
local r = {}
r.m1 = bl.model.load("\0\xff")
r.m2 = bl.model.random("99999999-1", -1)
r.m3 = bl.model.random({}, {})
return r
