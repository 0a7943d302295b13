-- betlab session record
local bl = require "betlab"
local r = {}
r.m1 = bl.model.random("6-4-3", 1
