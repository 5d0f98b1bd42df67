module example.com/app

go 1.21

require (
	example.com/allbad v1.0.0
	example.com/multi v1.0.0
	example.com/vulnmod v1.1.0
)
