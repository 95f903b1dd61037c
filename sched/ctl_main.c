/* placeholder replaced below */
int cmd_controllers(int argc, char **argv);
int cmd_controllers(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return 2;
}
