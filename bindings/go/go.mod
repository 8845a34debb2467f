module phantompool

go 1.19
