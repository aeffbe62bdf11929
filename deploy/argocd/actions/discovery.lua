-- Argo CD resource actions of a CloudPhoneRoute, offered in the resource's menu: `reconcile` (read the phones
-- now instead of at the next drift check), `suspend` and `resume` (spec.suspend). A suspended route offers only
-- `resume`: the operator ignores a reconcile request while it is suspended, and suspending twice does nothing.
-- Installed by argocd-cm-patch.yaml (resource.customizations.actions.cloudphone.dev_CloudPhoneRoute, generated
-- from the files of this folder); test/unit/argocd-actions.test.ts runs them under gopher-lua as Argo CD does.
local actions = {}
local suspended = obj.spec ~= nil and obj.spec.suspend == true
actions["reconcile"] = { ["disabled"] = suspended }
actions["suspend"] = { ["disabled"] = suspended }
actions["resume"] = { ["disabled"] = not suspended }
return actions
