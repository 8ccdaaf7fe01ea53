"""Users (用户), roles (角色), org-unit scoping, passwords, web sessions and API tokens."""
