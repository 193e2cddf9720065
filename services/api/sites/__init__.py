"""The widget's sites: admins register the origins that embed it and the key their backends sign user tokens with."""
