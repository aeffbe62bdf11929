-- Resumes a suspended route: the operator corrects its phones' routes again from the next reconcile on.
obj.spec.suspend = false
return obj
