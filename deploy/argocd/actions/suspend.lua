-- Suspends the route: the operator stops changing its phones' routes and keeps reporting their state.
obj.spec.suspend = true
return obj
