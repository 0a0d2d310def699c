"""Follow for welfare (关注送福利): the room offer that moves viewers into a community."""
